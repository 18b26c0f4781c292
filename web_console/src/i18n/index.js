import { createI18n } from 'vue-i18n'
import zhCN from './locales/zh-CN'
import en from './locales/en'
import { mergedMessages } from '@/modules/registry'

export const LOCALE_KEY = 'ecs.locale'
export const SUPPORTED_LOCALES = ['zh-CN', 'en']

function initialLocale() {
  try {
    const saved = localStorage.getItem(LOCALE_KEY)
    if (SUPPORTED_LOCALES.includes(saved)) return saved
  } catch {
    /* ignore */
  }
  return 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  globalInjection: true,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: mergedMessages({ 'zh-CN': zhCN, en }),
  missingWarn: false,
  fallbackWarn: false,
})

function applyDocument(locale) {
  if (typeof document === 'undefined') return
  document.documentElement.lang = locale
  document.title = i18n.global.t('app.name')
}

export function setLocale(locale) {
  if (!SUPPORTED_LOCALES.includes(locale)) return
  i18n.global.locale.value = locale
  try {
    localStorage.setItem(LOCALE_KEY, locale)
  } catch {
    /* ignore */
  }
  applyDocument(locale)
}

export function currentLocale() {
  return i18n.global.locale.value
}

applyDocument(initialLocale())
