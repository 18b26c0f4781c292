import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus from 'element-plus'
import 'element-plus/dist/index.css'
import 'element-plus/theme-chalk/dark/css-vars.css'

import App from './App.vue'
import { i18n } from './i18n'
import { router } from './router'
import { useAuthStore } from './stores/auth'
import { useRealtimeStore } from './stores/realtime'
import { onSessionLost } from './api/session'
import './styles/global.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
app.use(ElementPlus)
app.use(router)

const auth = useAuthStore()
auth.bind()

// The session is gone (refresh failed, logout in another tab…): stop live updates, go to login.
onSessionLost(() => {
  useRealtimeStore().reset()
  auth.user = null
  auth.authenticated = false
  const current = router.currentRoute.value
  if (current.name !== 'login') {
    router.replace({ name: 'login', query: current.fullPath && current.fullPath !== '/' ? { redirect: current.fullPath } : {} })
  }
})

app.mount('#app')
