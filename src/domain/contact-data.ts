/**
 * A copy of contact data as a null-prototype record: the keys are the sender's, and a key like `__proto__` must stay a
 * plain entry instead of reaching the object's prototype (also after JSON, a structured clone or a merge).
 */
export function copyContactData(data: Readonly<Record<string, string>>): Record<string, string> {
  const copy: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(data)) copy[k] = v;
  return copy;
}
