// Steps of one story, run in order: once a step fails, the later ones are
// reported skipped (naming the step that failed) instead of failing again
// for want of what it should have made.

import { test } from 'node:test'

let failed

/** A step of the script's story (a node:test test). */
export function step(name, body) {
  test(name, async (t) => {
    if (failed) {
      t.skip(`"${failed}" failed`)
      return
    }
    try {
      await body(t)
    } catch (error) {
      failed = name
      throw error
    }
  })
}
