// Every time on screen is shown in Asia/Shanghai, whatever the browser's zone.
// The server sends ISO-8601 UTC strings.
export const TIME_ZONE = 'Asia/Shanghai'

const partsFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

/** Parse a server timestamp; a string without zone designator is taken as UTC. */
export function parseServerTime(value) {
  if (value === null || value === undefined || value === '') return null
  if (value instanceof Date) return isNaN(value) ? null : value
  if (typeof value === 'number') return new Date(value)
  let s = String(value).trim()
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s = s.replace(' ', 'T') + 'Z'
  const d = new Date(s)
  return isNaN(d) ? null : d
}

function parts(d) {
  const out = {}
  for (const p of partsFmt.formatToParts(d)) out[p.type] = p.value
  return out
}

/** 'YYYY-MM-DD HH:mm:ss' in Asia/Shanghai. */
export function formatDateTime(value) {
  const d = parseServerTime(value)
  if (!d) return ''
  const p = parts(d)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`
}

/** 'HH:mm:ss' in Asia/Shanghai. */
export function formatTime(value) {
  const d = parseServerTime(value)
  if (!d) return ''
  const p = parts(d)
  return `${p.hour}:${p.minute}:${p.second}`
}

/** 'YYYY-MM-DD' in Asia/Shanghai. */
export function formatDate(value) {
  const d = parseServerTime(value)
  if (!d) return ''
  const p = parts(d)
  return `${p.year}-${p.month}-${p.day}`
}

/** Short form for lists: time only when it is today (Shanghai), full otherwise. */
export function formatSmart(value, now = new Date()) {
  const d = parseServerTime(value)
  if (!d) return ''
  return formatDate(d) === formatDate(now) ? formatTime(d) : formatDateTime(d)
}

/** Long, localised date with weekday for headers (e.g. the big-screen clock). */
export function formatLongDate(value, locale) {
  const d = parseServerTime(value) || new Date()
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: TIME_ZONE,
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    weekday: 'long',
  }).format(d)
}
