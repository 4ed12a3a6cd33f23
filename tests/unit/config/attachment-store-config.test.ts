import { ConfigError, loadConfig } from '../../../src/config/config';

/** ATTACHMENT_STORE and its variables: typed, and every error names the variable to fix. */
describe('attachment store config', () => {
  it('defaults to redis', () => {
    expect(loadConfig({}).attachmentStore).toEqual({ kind: 'redis' });
    expect(loadConfig({}).attachmentTimeoutMs).toBe(30_000);
    expect(loadConfig({}).attachmentSweepSeconds).toBe(3600);
  });

  it('fs needs ATTACHMENT_DIR (made absolute)', () => {
    expect(loadConfig({ ATTACHMENT_STORE: 'fs', ATTACHMENT_DIR: '/var/lib/wi' }).attachmentStore).toEqual({
      kind: 'fs',
      dir: '/var/lib/wi',
    });
    expect(() => loadConfig({ ATTACHMENT_STORE: 'fs' })).toThrow(/^ATTACHMENT_DIR: required with ATTACHMENT_STORE=fs/);
  });

  it('s3 needs S3_BUCKET; endpoint optional; region from S3_REGION, then AWS_REGION, then us-east-1; path style is a boolean', () => {
    expect(loadConfig({ ATTACHMENT_STORE: 's3', S3_BUCKET: 'wi-attachments' }).attachmentStore).toEqual({
      kind: 's3',
      bucket: 'wi-attachments',
      region: 'us-east-1',
      forcePathStyle: false,
    });
    expect(loadConfig({ ATTACHMENT_STORE: 's3', S3_BUCKET: 'wi-attachments', AWS_REGION: 'eu-west-1' }).attachmentStore).toMatchObject({
      region: 'eu-west-1',
    });
    expect(
      loadConfig({
        ATTACHMENT_STORE: 's3',
        S3_BUCKET: 'b.c-d',
        S3_ENDPOINT: 'http://127.0.0.1:9000',
        S3_REGION: 'eu-central-1',
        S3_FORCE_PATH_STYLE: 'true',
        AWS_REGION: 'x',
      }).attachmentStore,
    ).toEqual({ kind: 's3', bucket: 'b.c-d', endpoint: 'http://127.0.0.1:9000', region: 'eu-central-1', forcePathStyle: true });
    expect(() => loadConfig({ ATTACHMENT_STORE: 's3' })).toThrow(/^S3_BUCKET: required with ATTACHMENT_STORE=s3/);
  });

  it.each([
    [{ ATTACHMENT_STORE: 'disk' }, /ATTACHMENT_STORE: must be redis, fs or s3/],
    [{ ATTACHMENT_STORE: 's3', S3_BUCKET: 'B' }, /S3_BUCKET: must be an S3 bucket name/],
    [{ ATTACHMENT_STORE: 's3', S3_BUCKET: 'bucket', S3_FORCE_PATH_STYLE: 'maybe' }, /S3_FORCE_PATH_STYLE/],
    [{ ATTACHMENT_STORE: 's3', S3_BUCKET: 'bucket', S3_ENDPOINT: 'minio:9000' }, /S3_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/],
    [{ ATTACHMENT_STORE: 's3', S3_BUCKET: 'bucket', S3_REGION: 'EU West' }, /S3_REGION: must be a region name/],
    [{ ATTACHMENT_DIR: '/data' }, /ATTACHMENT_DIR is set but ATTACHMENT_STORE is redis/],
    [{ ATTACHMENT_STORE: 'fs', ATTACHMENT_DIR: '/d', S3_BUCKET: 'bucket' }, /S3_BUCKET is set but ATTACHMENT_STORE is fs/],
    [{ ATTACHMENT_TIMEOUT_MS: '10' }, /ATTACHMENT_TIMEOUT_MS/],
  ])('%j → ConfigError naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
