// Colours of the map's layers and kinds, shared by the base map, the legends and the result tables.
import { i18n } from '@/i18n'

export const THEMATIC_LAYERS = ['sensitive', 'resources', 'risk_sources', 'stations', 'facilities']
export const BASE_LAYERS = ['districts', 'rivers']
export const ALL_LAYERS = [...BASE_LAYERS, ...THEMATIC_LAYERS]

export const KIND_COLORS = {
  // sensitive targets: warm colours for people, blue/green for water and nature
  school: '#d94801',
  kindergarten: '#f16913',
  hospital: '#cb181d',
  nursing_home: '#c51b8a',
  residential: '#807dba',
  water_source_protection: '#2171b5',
  nature_reserve: '#238b45',
  // resources
  depot: '#1f78b4',
  team: '#33a02c',
  vehicle: '#6a3d9a',
  monitoring_equipment: '#b15928',
  // risk sources (coloured by risk level, see RISK_COLORS; these are the fallbacks)
  chemical_plant: '#a50f15',
  hazardous_waste: '#7f2704',
  sewage_plant: '#8c6d31',
  // stations
  air_station: '#0570b0',
  water_station: '#02818a',
  // river facilities
  water_intake: '#045a8d',
  monitoring_section: '#41ae76',
  dam: '#525252',
  gate: '#737373',
  emergency_pond: '#8c510a',
}

export const RISK_LEVELS = ['major', 'high', 'general']
export const RISK_COLORS = { major: '#a50f15', high: '#ef3b2c', general: '#fd8d3c' }

/** Threat zones: most severe first (rank 0 = red). The possible zone is drawn dashed. */
export const ZONE_COLORS = ['#d7191c', '#fd8d3c', '#f5c400']
export const POSSIBLE_COLOR = '#555'

export function zoneColor(rank) {
  return ZONE_COLORS[Math.min(Math.max(rank || 0, 0), ZONE_COLORS.length - 1)]
}

export function featureColor(layer, kind, props) {
  if (layer === 'risk_sources' && props && RISK_COLORS[props.risk_level]) return RISK_COLORS[props.risk_level]
  return KIND_COLORS[kind] || '#3a6ea5'
}

const te = (k) => i18n.global.te(k) || i18n.global.te(k, 'zh-CN')

export function kindLabel(kind) {
  const k = `map.kinds.${kind}`
  return te(k) ? i18n.global.t(k) : kind
}

export function layerLabel(layer) {
  const k = `map.layers.${layer}`
  return te(k) ? i18n.global.t(k) : layer
}

export function formatDistance(m) {
  if (m === null || m === undefined || !isFinite(m)) return ''
  return m >= 1000 ? `${(m / 1000).toFixed(2)} km` : `${Math.round(m)} m`
}

/** Seconds → "1 h 05 min" / "12 min" / "40 s" (durations are not clock times: no time zone). */
export function formatDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return '—'
  if (s < 60) return `${Math.round(s)} s`
  const min = Math.round(s / 60)
  if (min < 60) return `${min} min`
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`
}

export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}
