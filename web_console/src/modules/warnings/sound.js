// A short alert tone (Web Audio, no asset): higher and repeated for higher levels.
let ctx = null

export function beep(level = 'yellow') {
  try {
    ctx = ctx || new (window.AudioContext || window.webkitAudioContext)()
    const count = { red: 3, orange: 2 }[level] || 1
    const freq = { red: 1046, orange: 880, yellow: 740, blue: 620 }[level] || 740
    for (let i = 0; i < count; i++) {
      const osc = ctx.createOscillator()
      const gain = ctx.createGain()
      osc.frequency.value = freq
      gain.gain.value = 0.08
      osc.connect(gain).connect(ctx.destination)
      const start = ctx.currentTime + i * 0.25
      osc.start(start)
      osc.stop(start + 0.15)
    }
  } catch {
    /* audio unavailable (autoplay policy): the visual cue remains */
  }
}
