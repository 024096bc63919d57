// examples/spa in Chromium, as the README's reader uses it: connect it
// (client id from `portcullis client add`), sign up on Portcullis's page,
// land back in the app signed in, comment (anyone signed in), be refused a
// download, buy, download, see the token refreshed before it expires, sign
// out (which ends the Portcullis session too), and sign in again.
//
// The harness serves the app with `python3 -m http.server`, runs the
// bookstore allowing the app's origin, gives Portcullis that origin as a
// CORS origin, and an access token lifetime of 8 s.

import assert from 'node:assert/strict'
import { after, before } from 'node:test'

import {
  clickAndWait,
  expectPage,
  freshPage,
  launchBrowser,
  logIn,
  screenshot,
  signUpFromLogin,
} from './lib/browser.mjs'
import { PASSWORD, context, freshEmail, issuer, issuerOrigin } from './lib/context.mjs'
import { step } from './lib/steps.mjs'

const app = context.spa
const appOrigin = new URL(app.url).origin
const user = { email: freshEmail('reader'), password: PASSWORD, name: 'Ada Reader' }

let chromium
let page
/** Script errors and console errors of the app (a CSP refusal shows there). */
const problems = []

before(async () => {
  chromium = await launchBrowser()
  page = await freshPage(chromium.browser)
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    const source = message.location()?.url ?? ''
    // Chromium logs the refused download (403) itself: that one is expected.
    if (source === `${app.api}/books/1/download` && /status of 403/.test(message.text())) return
    problems.push(`console: ${message.text()} (${source || page.url()})`)
  })
})

after(async () => {
  await chromium?.close()
})

function visible(id) {
  return page.waitForSelector(`#${id}:not([hidden])`)
}

function textOf(id) {
  return page.$eval(`#${id}`, (element) => element.textContent)
}

/** Waits until the element `id` holds text matching `pattern`. */
function waitForText(id, pattern, timeout = 15_000) {
  return page.waitForFunction(
    (elementId, source) => new RegExp(source).test(document.getElementById(elementId)?.textContent ?? ''),
    { timeout },
    id,
    pattern.source,
  )
}

/** Waits for the app to be signed in, after a redirect back from Portcullis. */
async function signedInAgain() {
  await expectPage(page, appOrigin, '/')
  await visible('signed-in')
  assert.equal(await textOf('user-email'), user.email)
  assert.equal(page.url(), app.url, 'the code is gone from the address bar')
}

step('the app asks to be connected to Portcullis and shows the public catalogue', async () => {
  await page.goto(app.url)
  await visible('setup')
  for (const [id, value] of [
    ['issuer', issuer],
    ['client-id', app.client_id],
    ['api', app.api],
  ]) {
    await page.$eval(`#${id}`, (input) => {
      input.value = ''
    })
    await page.type(`#${id}`, value)
  }
  await screenshot(page, 'setup')
  await page.click('#save')
  await visible('signed-out')
  await page.waitForSelector('#books li')
  await screenshot(page, 'signed-out')
})

step('a new user signs up on Portcullis and lands back in the app, signed in', async () => {
  await clickAndWait(page, '#sign-in')
  await expectPage(page, issuerOrigin, '/login')
  await signUpFromLogin(page, user)
  await signedInAgain()
  assert.equal(await textOf('user-name'), user.name)
  await screenshot(page, 'signed-in')
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]))
  assert.ok(!stored.includes('eyJ'), `no token in web storage: ${stored}`)
})

step('anyone signed in may comment', async () => {
  await page.type('#comment-text-1', 'A fine book about ownership.')
  await page.click('#post-comment-1')
  await waitForText('comments-1', /A fine book about ownership\./)
  await screenshot(page, 'commented')
})

step('a download is refused until a purchase, then allowed with the refreshed token', async () => {
  await page.click('#download-1')
  await waitForText('error', /buy a book first/)
  await screenshot(page, 'download-refused')
  await page.click('#buy')
  await waitForText('message', /Thank you/)
  assert.match(await textOf('message'), /now carries books:download/)
  await page.click('#download-1')
  await waitForText('downloaded-1', /The Rust Programming Language/)
  await screenshot(page, 'downloaded')
})

step('the app refreshes its access token before it expires', async () => {
  const before = Number(await textOf('refresh-count'))
  await page.waitForFunction(
    (count) => Number(document.getElementById('refresh-count').textContent) > count,
    { timeout: 30_000 },
    before,
  )
  await page.type('#comment-text-2', 'Still signed in after a refresh.')
  await page.click('#post-comment-2')
  await waitForText('comments-2', /Still signed in after a refresh\./)
  await screenshot(page, 'refreshed')
})

step('signing out ends the Portcullis session too', async () => {
  await clickAndWait(page, '#sign-out')
  await expectPage(page, appOrigin, '/')
  await visible('signed-out')
  await waitForText('message', /You are signed out\./)
  await screenshot(page, 'signed-out-again')
  await clickAndWait(page, '#sign-in')
  await expectPage(page, issuerOrigin, '/login')
  await logIn(page, user)
  await signedInAgain()
  await screenshot(page, 'signed-in-again')
})

step('the app ran without a script error or a refused request', () => {
  assert.deepEqual(problems, [])
})
