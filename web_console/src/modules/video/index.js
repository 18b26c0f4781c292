// Video (COM-1/2/3/7, MAP-7): the video wall (/console/video), tours, playback, cameras on the map and the camera
// catalogue. The big screen gets a `video` panel (the first tour). `mapOverlays` is what the main map page may
// offer in its layer switcher once it supports module overlays (see components/CameraOverlay.vue).
import messages from './messages'

export default {
  key: 'video',
  // who may open the video pages: the same roles as the server's cameras:read
  perm: 'cameras:read',
  view: () => import('./VideoWallView.vue'),
  children: [
    { path: 'video/tours', name: 'console-video-tours', component: () => import('./ToursView.vue') },
    { path: 'video/playback', name: 'console-video-playback', component: () => import('./PlaybackView.vue') },
    { path: 'video/map', name: 'console-video-map', component: () => import('./CameraMapView.vue') },
    { path: 'video/cameras', name: 'console-video-cameras', component: () => import('./CamerasView.vue') },
  ],
  screenPanels: { video: () => import('./components/ScreenVideoPanel.vue') },
  // <CameraOverlay :map="map" /> inside BaseMap's slot draws the live camera overlay (with the live dialog)
  mapOverlays: [{ key: 'cameras', label: 'video.map.overlay', component: () => import('./components/CameraOverlay.vue') }],
  messages,
}
