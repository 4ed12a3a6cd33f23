import { DispositionCodes, OTHER_DISPOSITION } from '../../../src/domain/disposition';

describe('disposition codes as counted', () => {
  it('keep the first codes by name and count any later new one as other', () => {
    const codes = new DispositionCodes(2);
    expect(['a', 'b', 'a', 'c', 'b', 'd'].map((c) => codes.label(c))).toEqual(['a', 'b', 'a', OTHER_DISPOSITION, 'b', OTHER_DISPOSITION]);
  });
});
