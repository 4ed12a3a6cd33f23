import { parseRfc3339 } from '../../domain/date-time';
import { holdUntilProblem } from '../../domain/hold';
import { DAY_MS } from '../../domain/task-types';
import { reject } from './rejection';
import { childPath } from './xml-path';
import { XmlNode } from './xml-node';

const CONTROL_CHAR = /\p{Cc}/u;

/** The single child element `name` of `parent` (the structure check already ruled out repeats). */
export function child(parent: XmlNode, name: string): XmlNode | undefined {
  return parent.children.get(name)?.[0];
}

/** Trimmed text of an optional child; an empty element counts as absent. */
export function optionalText(parent: XmlNode, name: string): string | undefined {
  const text = child(parent, name)?.text.trim();
  return text === '' ? undefined : text;
}

export function requiredText(parent: XmlNode, name: string, parentPath: string): string {
  const text = optionalText(parent, name);
  if (text === undefined) reject('MISSING_FIELD', `<${name}> is required`, childPath(parentPath, name, 1));
  return text;
}

export function checkMaxLength(value: string, max: number, label: string, path: string): void {
  if (value.length > max) reject('INVALID_FIELD', `${label} must be at most ${max} characters`, path);
}

export function checkNoControlChars(value: string, label: string, path: string): void {
  if (CONTROL_CHAR.test(value)) reject('INVALID_FIELD', `${label} must not contain control characters`, path);
}

export function hasControlChars(value: string): boolean {
  return CONTROL_CHAR.test(value);
}

/** `1`..`10`, digits only (no sign, no fraction, no exponent). */
export function parsePriority(text: string, path: string): number {
  const value = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= 10)) reject('INVALID_FIELD', 'priority must be an integer 1..10', path);
  return value;
}

/**
 * RFC 3339 date-time with seconds and a zone (`Z` or `±hh:mm`). Date.parse alone is too lenient
 * (it rolls 2026-02-30 over to March), so the fields are range-checked too. Returned as the sender
 * wrote it: the contact center gets the sender's value, unchanged.
 */
export function parseDueAt(text: string, path: string): string {
  parseDateTime(text, 'dueAt', path);
  return text;
}

/** The same RFC 3339 check as dueAt; returns the instant in ms since the epoch. */
export function parseDateTime(text: string, label: string, path: string): number {
  const time = parseRfc3339(text);
  if (time === null) reject('INVALID_FIELD', `${label} must be an ISO-8601 date-time with a time zone, e.g. 2026-11-24T12:00:00Z`, path);
  return time;
}

export const MAX_EXPIRES_DAYS = 365;

/** `<expiresAt>`: a date-time in the future, at most 365 days after `nowMs`. Returned as the sender wrote it. */
export function parseExpiresAt(text: string, path: string, nowMs: number): string {
  const time = parseDateTime(text, 'expiresAt', path);
  if (time <= nowMs) reject('INVALID_FIELD', 'expiresAt must be in the future', path);
  if (time > nowMs + MAX_EXPIRES_DAYS * DAY_MS) reject('INVALID_FIELD', `expiresAt must be at most ${MAX_EXPIRES_DAYS} days ahead`, path);
  return text;
}

/** `<activateAt>`: a date-time at most `maxDays` after `nowMs` (now or in the past: routed at once). */
export function parseActivateAt(text: string, path: string, nowMs: number, maxDays: number): string {
  const time = parseDateTime(text, 'activateAt', path);
  if (time > nowMs + maxDays * DAY_MS) {
    reject('INVALID_FIELD', `activateAt must be at most ${maxDays} days ahead (schedule.maxDays)`, path);
  }
  return text;
}

/** A hold's `<until>`: the rules of activateAt (at most `maxDays` after `nowMs`; now or past: resumed at once). */
export function parseHoldUntil(text: string, path: string, nowMs: number, maxDays: number): string {
  const problem = holdUntilProblem(text, nowMs, maxDays);
  if (problem !== undefined) reject('INVALID_FIELD', problem, path);
  return text;
}

/** XML white space only: what xs:positiveInteger collapses. */
const XML_SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;
const REVISION = /^\+?0*([1-9][0-9]{0,15})$/;

/**
 * The `revision` attribute: a positive integer (an optional `+` and leading zeros as xs:positiveInteger allows) up to
 * 2^53-1, so it compares exactly wherever it travels (Lua, JSON). Anything else: INVALID_FIELD.
 */
export function parseRevision(text: string, path: string): number {
  const m = REVISION.exec(text.replace(XML_SPACE, ''));
  const value = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    reject('INVALID_FIELD', `revision must be a positive integer of at most ${Number.MAX_SAFE_INTEGER}`, path);
  }
  return value;
}

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const PHONE = /^\+?[0-9 ()-]{3,32}$/;

export function checkEmail(value: string, path: string): void {
  if (value.length > 254 || !EMAIL.test(value)) reject('INVALID_FIELD', 'email is not a valid e-mail address', path);
}

export function checkPhone(value: string, path: string): void {
  if (!PHONE.test(value)) reject('INVALID_FIELD', 'phone must be digits, spaces, ( ) - and an optional leading +', path);
}
