/**
 * Where schemas/workitem-v1.xsd and the service's parser may disagree, in one place, with the reason.
 * xsd-differential.test.ts checks that every disagreement on the corpus (xml-corpus.ts) is claimed by exactly one
 * entry here, in the stated direction, and that every case named here still disagrees (so the lists stay true: a
 * case that agrees now must be taken off).
 *
 * Three lists, kept apart on purpose:
 * - XSD_CANNOT_EXPRESS: rules of the service that an XSD 1.0 cannot state (configuration, bytes, time, markup
 *   outside the element tree), and the few places where xs: types are stricter than the service.
 * - NOT_YET_IMPLEMENTED: contract 1.1 or 1.2 that the XSD already describes and the parser does not do yet. When the
 *   parser learns it, the case agrees and the test asks for its removal here.
 * - SERVICE_GAPS: leniencies of the parser that this differential found; to be fixed in the parser.
 */
export interface DisagreementRule {
  id: string;
  /** What is checked, by whom. */
  rule: string;
  /** Why the XSD does not (or cannot) say the same. */
  reason: string;
  /** Which side rejects the listed cases. */
  stricter: 'service' | 'xsd';
  /** Case names from xml-corpus.ts; each must disagree. */
  cases: readonly string[];
  /**
   * Name prefixes for fixture folders maintained with another feature (e.g. the encodings fixtures): a case under
   * one of them may disagree in the stated direction, but need not.
   */
  prefixes?: readonly string[];
}

export const XSD_CANNOT_EXPRESS: readonly DisagreementRule[] = [
  {
    id: 'doctype',
    rule: 'A DOCTYPE, with or without an internal subset, is FORBIDDEN_XML (no DTD, no entities, no XXE).',
    reason:
      'XSD constrains the element tree; a DOCTYPE is not part of it. (Documents that use their entities fail the XSD ' +
      'as well, because libxml2 does not validate unexpanded entity references: those agree.)',
    stricter: 'service',
    cases: ['fixtures/hostile/comment-hides-cdata.xml', 'fixtures/hostile/doctype-plain.xml', 'case: DOCTYPE with internal subset, unused'],
  },
  {
    id: 'processing-instructions',
    rule: 'Processing instructions other than the leading XML declaration are FORBIDDEN_XML, anywhere in the document.',
    reason: 'XSD validation ignores processing instructions (they are not element or attribute content).',
    stricter: 'service',
    cases: [
      'fixtures/xml/processing-instruction.xml',
      'fixtures/hostile/pi-php.xml',
      'fixtures/hostile/pi-xml-stylesheet.xml',
      'case: processing instruction in subject',
      'case: processing instruction after root',
    ],
  },
  {
    id: 'namespaces',
    rule: 'No namespaces: any xmlns declaration or prefixed name is INVALID_FIELD (also xsi:noNamespaceSchemaLocation).',
    reason: 'XSD always allows namespace declarations and the xsi: attributes on any element.',
    stricter: 'service',
    cases: ['case: xsi:noNamespaceSchemaLocation'],
  },
  {
    id: 'configured-entrances',
    rule: 'entrance must be a configured entrance (WORKITEM_CONFIG "entrances"), else UNKNOWN_ENTRANCE.',
    reason: 'Configuration, not schema; the XSD carries only the entrance-name pattern [a-z0-9._-]{1,64}.',
    stricter: 'service',
    cases: ['case: entrance not configured', 'case: entrance constructor'],
  },
  {
    id: 'task-type-defaults',
    rule: 'entrance may be left out only when the task type (the task key\'s value) has a default entrance (WORKITEM_CONFIG "taskTypes"), else MISSING_FIELD.',
    reason: 'Configuration, not schema: the XSD makes entrance optional (minOccurs 0) and says when in its documentation.',
    stricter: 'service',
    cases: ['case: entrance missing'],
  },
  {
    id: 'task-key',
    rule: 'contactData must hold the configured task key (default WorkItemTask, exact case) with a non-empty value, else NOT_A_WORKITEM.',
    reason: 'The key is configuration; XSD 1.0 cannot require "an item whose key attribute is X has non-empty text" (no assertions).',
    stricter: 'service',
    cases: [
      'examples/bad-missing-task-key.xml',
      'case: task key: absent',
      'case: task key: empty value',
      'case: task key: blank value',
      'case: task key: other letter case',
    ],
  },
  {
    id: 'content-type-allow-list',
    rule: "The attachment's type/subtype must be on attachments.allowedContentTypes (default audio/*, image/*, application/pdf, text/plain).",
    reason: 'Configuration; the XSD carries only the media-type grammar.',
    stricter: 'service',
    cases: ['case: attachment contentType "text/html"', 'case: attachment contentType "application/x-msdownload"', 'case: attachment exe'],
  },
  {
    id: 'attachment-decoded-size',
    rule: 'The decoded attachment is at most attachments.maxBytes (default 10 MiB), else ATTACHMENT_REJECTED.',
    reason: 'Configuration, and XSD length facets on base64Binary would count the default only; the service counts decoded bytes.',
    stricter: 'service',
    cases: ['case: attachment over 10 MiB'],
  },
  {
    id: 'file-name-bytes',
    rule: 'attachment/@fileName is at most 255 bytes of UTF-8 (the common file-system limit).',
    reason: 'XSD lengths count characters; the XSD says at most 255 characters.',
    stricter: 'service',
    cases: ['case: attachment fileName longer than 255 bytes'],
  },
  {
    id: 'social-pages',
    rule: "social's platform and pageId must be a configured page (SOCIAL_NOT_CONFIGURED), and the item's entrance that page's entrance (INVALID_FIELD).",
    reason: 'Configuration, and a rule across two fields that depends on it.',
    stricter: 'service',
    cases: [
      'case: social unknown platform',
      'case: social unknown page',
      'case: social platform constructor',
      'case: social page constructor',
      'case: social page __proto__',
      'case: social other entrance',
    ],
  },
  {
    id: 'time-relative',
    rule: 'expiresAt must be in the future and at most 365 days ahead; activateAt at most schedule.maxDays (default 30) ahead (INVALID_FIELD).',
    reason: 'Relative to the time of arrival (and configuration); XSD only knows the date-time form.',
    stricter: 'service',
    cases: ['case: expiresAt in the past', 'case: expiresAt 400 days ahead', 'case: activateAt 40 days ahead'],
  },
  {
    id: 'update-needs-a-field',
    rule: '<updateWorkItem> needs at least one field besides externalId and source.',
    reason: 'The fields may come in any order (xs:all); XSD 1.0 cannot also require "at least one of them".',
    stricter: 'service',
    cases: ['case: update nothing to change'],
  },
  {
    id: 'encoding-policy',
    rule:
      'Which encodings are accepted (UTF-8, UTF-16 with a BOM, ISO-8859-1, windows-1252, US-ASCII), and the refusal of a BOM ' +
      'that contradicts the declaration or of bytes no real text in that encoding carries (docs/senders.md "Encodings").',
    reason: 'XSD constrains the decoded content, not the bytes; libxml2 decodes more than the service accepts.',
    stricter: 'service',
    cases: [],
    prefixes: ['fixtures/xml/encodings/bad-'],
  },
  {
    id: 'sender-identity',
    rule: "The routing key's workitem.<source> must equal <source> (SENDER_NOT_ALLOWED).",
    reason: 'The routing key is not part of the document. (Checked by the application; no document case.)',
    stricter: 'service',
    cases: [],
  },
  {
    id: 'configured-limits',
    rule: 'limits.* (message bytes, nesting depth, element and attribute counts, name, attribute and text lengths) are TOO_LARGE / TOO_DEEP.',
    reason: 'Configuration; the XSD writes a default only where it is the only bound of a field (body 65536, contentType 4096).',
    stricter: 'service',
    cases: [],
  },
  {
    id: 'root-element',
    rule: 'Only workItem, cancelWorkItem, updateWorkItem, getWorkItem, holdWorkItem and resumeWorkItem are accepted as a message (UNKNOWN_ROOT otherwise).',
    reason:
      'XSD has no notion of "the" root: workItemReceipt, workItemInfo and workItemNotification are global elements too. The differential test checks the root itself.',
    stricter: 'service',
    cases: [],
  },
  {
    id: 'xsd-datetime-zone',
    rule: 'The XSD (xs:dateTime) allows zone offsets up to ±14:00; the service accepts any ±hh:mm with hh ≤ 23.',
    reason: 'xs:dateTime is stricter than RFC 3339 here; no real zone is beyond ±14:00, so the XSD keeps its type.',
    stricter: 'xsd',
    cases: ['case: dueAt "2026-11-24T12:00:00+15:00"'],
  },
  {
    id: 'xsd-base64-padding-bits',
    rule: 'xs:base64Binary requires the unused bits before = padding to be zero; the service decodes such input anyway.',
    reason: 'XSD is stricter (every encoder writes zero bits); the XSD keeps base64Binary so generated classes get bytes.',
    stricter: 'xsd',
    cases: ['case: attachment base64 non-zero padding bits'],
  },
];

export const NOT_YET_IMPLEMENTED: readonly DisagreementRule[] = [];

export const SERVICE_GAPS: readonly DisagreementRule[] = [];
