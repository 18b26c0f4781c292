import { ElMessage } from 'element-plus'
import { i18n } from '@/i18n'

const t = (...a) => i18n.global.t(...a)

/** A readable message for an ApiError (or anything thrown). */
export function errorText(e) {
  if (!e) return t('common.unknownError')
  if (e.code === 'network_error' || e.status === 0) return t('common.networkError')
  if (e.code === 'session_lost') return t('common.sessionLost')
  if (e.status === 403) return e.message && e.code !== 'forbidden' ? e.message : t('common.forbidden')
  if (e.status === 404 && !e.message) return t('common.notFound')
  return e.message || t('common.unknownError')
}

export function showError(e) {
  if (e && e.code === 'session_lost') return // the app is already going to the login page
  ElMessage({ type: 'error', message: errorText(e), grouping: true })
}

/** 422 details.errors [{loc: ["body","mobile"], msg}] → {mobile: msg} */
export function fieldErrors(e) {
  const out = {}
  const list = e && e.details && Array.isArray(e.details.errors) ? e.details.errors : []
  for (const item of list) {
    const loc = Array.isArray(item.loc) ? item.loc : [item.loc]
    const field = [...loc].reverse().find((x) => typeof x === 'string' && x !== 'body') || String(loc[loc.length - 1])
    out[field] = out[field] ? `${out[field]}; ${item.msg}` : item.msg
  }
  return out
}
