// Presentation helpers for event objects:
// {id, type, at, actor: {id, username} | null, subject_type, subject_id, incident_id, payload}
import { i18n } from '@/i18n'

const t = (...a) => i18n.global.t(...a)
const te = (k) => i18n.global.te(k) || i18n.global.te(k, 'zh-CN')

export function typeKey(type) {
  return `events.types.${String(type || '').replace(/[^a-zA-Z0-9]/g, '_')}`
}

/** Translated label for a known type, the raw type otherwise. */
export function eventTypeLabel(type) {
  const k = typeKey(type)
  return te(k) ? t(k) : String(type || '')
}

export function isKnownType(type) {
  return te(typeKey(type))
}

/** Tag colour by family, for a quick visual scan. */
export function eventTypeTone(type) {
  const s = String(type || '')
  if (s.startsWith('bulletin.')) return 'warning'
  if (s.endsWith('.deleted')) return 'danger'
  if (s.endsWith('.created') || s.endsWith('.imported')) return 'success'
  if (s.startsWith('auth.')) return 'info'
  return 'primary'
}

export function actorLabel(ev) {
  const a = ev && ev.actor
  if (!a) return t('events.system')
  return a.display_name || a.username || (a.id != null ? `#${a.id}` : t('events.system'))
}

export function subjectLabel(ev) {
  if (!ev || !ev.subject_type) return ''
  return ev.subject_id != null && ev.subject_id !== '' ? `${ev.subject_type}#${ev.subject_id}` : ev.subject_type
}

function clip(s, n = 140) {
  s = String(s)
  return s.length > n ? s.slice(0, n - 1) + '…' : s
}

function primitiveSummary(payload) {
  if (!payload || typeof payload !== 'object') return payload == null ? '' : clip(payload)
  const bits = []
  for (const [k, v] of Object.entries(payload)) {
    if (v === null || v === undefined || v === '') continue
    if (typeof v === 'object') {
      if (Array.isArray(v)) bits.push(`${k}: [${v.length}]`)
      continue
    }
    bits.push(`${k}: ${v}`)
    if (bits.length >= 4) break
  }
  return clip(bits.join(' · '))
}

/** A one-line, human summary of the payload. */
export function eventSummary(ev) {
  const p = (ev && ev.payload) || {}
  const type = String((ev && ev.type) || '')
  if (type === 'bulletin.posted') return clip(p.text || '', 200)
  if (type === 'people.imported') {
    const errors = Array.isArray(p.errors) ? p.errors.length : Number(p.errors || p.error_count || 0)
    return t('events.summary.imported', { created: p.created ?? 0, updated: p.updated ?? 0, errors })
  }
  if (type.startsWith('person.')) {
    const name = p.name || (p.person && p.person.name) || ''
    const unit = p.unit_name || (p.person && p.person.unit_name) || ''
    const changed = Array.isArray(p.changed) ? p.changed.join(', ') : Array.isArray(p.fields) ? p.fields.join(', ') : ''
    return clip([name, unit && `(${unit})`, changed && `· ${changed}`].filter(Boolean).join(' ')) || primitiveSummary(p)
  }
  if (type.startsWith('unit.')) {
    const name = p.name || (p.unit && p.unit.name) || ''
    return name ? clip(name) : primitiveSummary(p)
  }
  if (type === 'auth.login') {
    return p.ip ? t('events.summary.login', { ip: p.ip }) : primitiveSummary(p)
  }
  if (p.text) return clip(p.text)
  if (p.title) return clip(p.title)
  if (p.name) return clip(p.name)
  return primitiveSummary(p)
}
