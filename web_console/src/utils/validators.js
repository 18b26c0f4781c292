// Phone: mainland mobile 1[3-9]xxxxxxxxx, or a landline such as 0871-12345678, 010 12345678,
// 12345678, optionally with an extension (-123).
export const MOBILE_RE = /^1[3-9]\d{9}$/
export const LANDLINE_RE = /^(\(?0\d{2,3}\)?[- ]?)?[2-9]\d{6,7}([- ]\d{1,6})?$/
export const ID_NUMBER_RE = /^(\d{15}|\d{17}[\dXx])$/
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function isPhone(v) {
  const s = String(v || '').trim()
  return MOBILE_RE.test(s) || LANDLINE_RE.test(s)
}

/** A value as the server masks it for roles without the right to see it (138****5678). */
export function isMasked(v) {
  return typeof v === 'string' && v.includes('*')
}
