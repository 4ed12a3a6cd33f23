/**
 * Source and entrance names. They become parts of routing keys (`workitem.<source>`, `contact.created.<entrance>`)
 * and queue names: lower-case letters, digits, `.`, `_` and `-`, 1 to 64 of them.
 */
export const NAME_SYNTAX = '[a-z0-9._-]{1,64}';
export const NAME_PATTERN = new RegExp(`^${NAME_SYNTAX}$`);
