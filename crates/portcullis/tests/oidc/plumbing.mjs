// The harness itself: Node.js reaches the server the harness started, and
// Chromium (through puppeteer-core) renders one of its pages. It asks only
// what the server has always served, so it passes before browser sign-in
// exists and tells a broken tool from a broken server.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { launchBrowser, freshPage, screenshot } from './lib/browser.mjs'
import { issuer, onIssuer } from './lib/context.mjs'
import { send } from './lib/web.mjs'

let chromium

before(async () => {
  chromium = await launchBrowser()
})

after(async () => {
  await chromium?.close()
})

test('the discovery document names this server as its issuer', async () => {
  const reply = await send(onIssuer('/.well-known/openid-configuration'))
  assert.equal(reply.status, 200, reply.describe())
  assert.equal(reply.json().issuer, issuer)
})

test('Chromium renders /healthz', async () => {
  const page = await freshPage(chromium.browser)
  const response = await page.goto(onIssuer('/healthz'))
  assert.equal(response.status(), 200)
  await screenshot(page, 'healthz')
  const text = await page.evaluate(() => document.body.innerText)
  assert.ok(text.length > 0, 'the page shows something')
})
