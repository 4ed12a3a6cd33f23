import type { AttachmentLinks } from '../../../../src/ports/attachment-links';

/** Plain URLs; a signed link carries a counter, so a test can tell each publish got a fresh one. */
export class FakeAttachmentLinks implements AttachmentLinks {
  private signatures = 0;

  location(contactId: string, fileName: string): string {
    return `http://svc/attachments/${contactId}/${encodeURIComponent(fileName)}`;
  }

  signed(contactId: string, fileName: string): string {
    return `${this.location(contactId, fileName)}?sig=${++this.signatures}`;
  }
}
