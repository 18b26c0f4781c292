/**
 * Feature modules: one folder per console module under src/modules/<key>/ with an index.js whose default
 * export is
 *   {
 *     key: 'map',                       // a key of CONSOLE_MODULES (router/index.js)
 *     perm: 'map:read',                 // permission to open it (optional)
 *     view: () => import('./MapView.vue'),   // the module's console page
 *     children: [ { path: ':id', name: 'console-incident', component: ... } ],  // extra console routes (optional)
 *     mobileRoutes: [ ... ],            // routes under /m (optional)
 *     screenPanels: { key: () => import(...) },  // panels the big screen may show (optional)
 *     messages: { 'zh-CN': { ... }, en: { ... } },  // merged into the i18n messages
 *   }
 * Adding a module means adding a folder; no shared file changes, so modules can be built side by side.
 */
const found = import.meta.glob('./*/index.js', { eager: true })

export const MODULES = Object.values(found)
  .map((m) => m.default)
  .filter(Boolean)

export function moduleFor(key) {
  return MODULES.find((m) => m.key === key)
}

function isObject(v) {
  return v && typeof v === 'object' && !Array.isArray(v)
}

export function deepMerge(base, extra) {
  const out = { ...base }
  for (const [k, v] of Object.entries(extra || {})) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k], v) : v
  }
  return out
}

export function mergedMessages(base) {
  const out = { ...base }
  for (const m of MODULES) {
    for (const [locale, msgs] of Object.entries(m.messages || {})) {
      out[locale] = deepMerge(out[locale] || {}, msgs)
    }
  }
  return out
}
