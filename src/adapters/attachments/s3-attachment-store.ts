import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3StoreConfig } from '../../config/config';
import type { AttachmentStore, StoredAttachment } from '../../ports/attachment-store';
import { PermanentStartError } from '../connect-errors';
import { checkedContactId, isContactId } from './attachment-keys';

/**
 * A client for S3 or an S3-compatible server (S3_ENDPOINT). Credentials come from the SDK's standard chain
 * (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE and shared files, web identity, container
 * and instance roles). Checksums only where an operation requires one: S3-compatible servers differ in what they
 * accept; the integrity of a put is checked by its explicit SHA-256 instead.
 */
export function createS3Client(cfg: S3StoreConfig, timeoutMs: number): S3Client {
  return new S3Client({
    region: cfg.region,
    ...(cfg.endpoint && { endpoint: cfg.endpoint }),
    forcePathStyle: cfg.forcePathStyle,
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Bounded: a connect within 5 s, a response (headers) within the attachment timeout.
    requestHandler: { connectionTimeout: Math.min(5000, timeoutMs), requestTimeout: timeoutMs, throwOnRequestTimeout: true },
  });
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * Attachments as objects `s3://<S3_BUCKET>/<namespace>/<contactId>`: one PutObject (attachments are at most
 * attachments.maxBytes, 10 MiB by default, well under the 5 GiB of a single put), GetObject streamed to the download,
 * DeleteObject on End, cancel and expiry.
 */
export class S3AttachmentStore implements AttachmentStore {
  readonly kind = 's3';
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    namespace: string,
  ) {
    this.prefix = `${namespace}/`;
  }

  private key(contactId: string): string {
    return this.prefix + checkedContactId(contactId);
  }

  /** At start: the bucket exists and these credentials may use it. Errors name the variable to fix. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const s = status(err);
      if (s === 404) throw new PermanentStartError('S3_BUCKET', `S3_BUCKET: bucket "${this.bucket}" does not exist`, { cause: err });
      if (s === 403 || s === 401) {
        throw new PermanentStartError(
          'S3_BUCKET',
          `S3_BUCKET: access to bucket "${this.bucket}" denied (check the AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the role)`,
          { cause: err },
        );
      }
      if (s === 301 || s === 400) {
        const why = `S3_REGION: bucket "${this.bucket}" refused the request (HTTP ${s}): wrong region or endpoint?`;
        throw new PermanentStartError('S3_REGION', why, { cause: err });
      }
      throw err;
    }
  }

  async put(contactId: string, data: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(contactId),
        Body: data,
        ContentLength: data.length,
        ContentType: 'application/octet-stream',
        ChecksumSHA256: createHash('sha256').update(data).digest('base64'),
      }),
    );
  }

  async open(contactId: string): Promise<StoredAttachment | null> {
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(contactId) }));
    } catch (err) {
      // Only a missing key is "no attachment"; a missing bucket (NoSuchBucket, also 404) is an error.
      if ((err as Error).name === 'NoSuchKey') return null;
      throw err;
    }
    const body = res.Body;
    if (!(body instanceof Readable) || res.ContentLength === undefined) {
      if (body instanceof Readable) body.destroy();
      throw new Error(`S3 GetObject of ${this.key(contactId)} answered without a stream or Content-Length`);
    }
    return { size: res.ContentLength, stream: body };
  }

  async remove(contactId: string): Promise<void> {
    // S3 answers 204 whether or not the object existed.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(contactId) }));
  }

  async *list(beforeMs: number): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token, MaxKeys: 1000 }),
      );
      for (const o of page.Contents ?? []) {
        const id = o.Key?.slice(this.prefix.length) ?? '';
        if (isContactId(id) && o.LastModified && o.LastModified.getTime() < beforeMs) yield id;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  close(): void {
    this.client.destroy();
  }
}
