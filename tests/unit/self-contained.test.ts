import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A clone in an empty folder must work: nothing the project ships may read or link the folder the specs were handed
 * over in (a sibling `shared/`), and what the README and the contract document point at must be in the project.
 */
const ROOT = path.resolve(__dirname, '../..');
// Built as two parts so this file does not match itself.
const SIBLING = ['..', 'shared'].join('/');

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean)
    .filter((f) => existsSync(path.join(ROOT, f)));
}

describe('the project is self-contained', () => {
  it(`no tracked file reads or links ${SIBLING}`, () => {
    const offenders = trackedFiles()
      .filter((f) => f !== 'CHANGELOG.md' && !/\.(png|jpg|wav|gz)$/.test(f))
      .filter((f) => readFileSync(path.join(ROOT, f), 'utf8').includes(SIBLING));
    expect(offenders).toEqual([]);
  });

  it('carries its own contract document and sample messages', () => {
    expect(existsSync(path.join(ROOT, 'docs/contract.md'))).toBe(true);
    for (const sample of [
      'loan-review.xml',
      'voicemail-with-audio.xml',
      'facebook-post.xml',
      'cancel.xml',
      'bad-missing-task-key.xml',
      'bad-doctype.xml',
    ]) {
      expect(existsSync(path.join(ROOT, 'examples', sample))).toBe(true);
    }
  });

  it('every relative link in README.md, docs/*.md and examples/README.md points at a file of the project', () => {
    const docs = ['README.md', ...trackedFiles().filter((f) => /^(docs|examples)\/[^/]+\.md$/.test(f))];
    const broken: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(path.join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue;
        if (!existsSync(path.resolve(ROOT, path.dirname(doc), target))) broken.push(`${doc} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
