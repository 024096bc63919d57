// One Chromium for every script of a test run: the system's, headless, with
// a profile of its own, started by the Rust harness (tests/services/browser)
// with its path as the one argument. The harness reads the DevTools endpoint
// this prints as its one line of output and hands it to each script
// (`browser_endpoint`), which connects (lib/browser.mjs) instead of launching
// a browser (about a second of CPU each) and keeps apart in browser contexts
// of its own. Chromium closes when stdin ends, which is when the harness
// exits, however it exits; it closes this process too.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import puppeteer from 'puppeteer-core'

const profile = await mkdtemp(join(tmpdir(), 'portcullis-chromium-'))
const browser = await launch().catch(async (error) => {
  await rm(profile, { recursive: true, force: true })
  throw error
})
// A Chromium that dies takes this process with it, so the scripts after it
// fail to connect instead of finding a browser that is not there.
browser.on('disconnected', () => process.exit(1))
process.stdout.write(`${browser.wsEndpoint()}\n`)
process.stdin.on('end', async () => {
  browser.removeAllListeners('disconnected')
  await browser.close()
  await rm(profile, { recursive: true, force: true })
  process.exit(0)
})
process.stdin.resume()

/** The system's Chromium, headless, on the profile made above. */
function launch() {
  return puppeteer.launch({
    executablePath: process.argv[2],
    headless: true,
    userDataDir: profile,
    // As root Chromium needs --no-sandbox; the rest keeps it off a network
    // it cannot reach here (it would try Google's hosts at every start).
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
