// Session ids: 192 bits from the CSPRNG, base64url (32 characters). A cookie value that is not of
// this exact shape is ignored without a store lookup.
import { randomBytes } from 'node:crypto';

const shape = /^[A-Za-z0-9_-]{32}$/;

export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

export function isSessionId(value: string): boolean {
  return value.length === 32 && shape.test(value);
}
