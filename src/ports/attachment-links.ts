/**
 * Where an item's attachment can be downloaded. The application never builds these URLs itself: the stored record
 * keeps the plain location, and every event that carries the attachment gets a freshly signed, expiring link.
 */
export interface AttachmentLinks {
  /** The attachment's address without a signature (kept in the stored record; not enough to download it). */
  location(contactId: string, fileName: string): string;
  /** A link that works for the configured lifetime from now, for the event being published. */
  signed(contactId: string, fileName: string): string;
}
