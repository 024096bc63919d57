// The system Chromium, headless, driven by puppeteer-core (whose own browser
// download cannot work here), and the hosted pages as a person uses them:
// fields found by the ids the markup contract fixes, a screenshot of every
// page on the way.

import { join } from 'node:path'

import puppeteer from 'puppeteer-core'

import { context } from './context.mjs'

/** The browser contexts this script opened, closed with its browser. */
const browserContexts = new Set()

/**
 * The run's shared Chromium (`shared_browser.mjs`, started by the harness);
 * `close()` closes the browser contexts this script opened in it.
 */
export async function launchBrowser() {
  const browser = await puppeteer.connect({ browserWSEndpoint: context.browser_endpoint })
  const close = async () => {
    try {
      await Promise.allSettled([...browserContexts].map((opened) => opened.close()))
    } finally {
      await browser.disconnect()
    }
  }
  return { browser, close }
}

let shots = 0

/** Saves a full-page screenshot as `NN-what.png` in the trial's folder. */
export async function screenshot(page, what) {
  shots += 1
  const file = `${String(shots).padStart(2, '0')}-${what}.png`
  await page.screenshot({ path: join(context.screenshots, file), fullPage: true })
  return file
}

/** What each page's console said, for the message of a failed expectation. */
const consoles = new WeakMap()

/** Starts keeping `page`'s console messages and script errors. */
export function recordConsole(page) {
  const lines = []
  consoles.set(page, lines)
  page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`))
  page.on('pageerror', (error) => lines.push(`page error: ${error.message}`))
}

/** A new page in a fresh browser context: no cookies, no session. */
export async function freshPage(browser) {
  const browserContext = await browser.createBrowserContext()
  browserContexts.add(browserContext)
  const page = await browserContext.newPage()
  page.setDefaultTimeout(15_000)
  page.setDefaultNavigationTimeout(15_000)
  recordConsole(page)
  return page
}

/** The path of the page's URL. */
export function pathOf(page) {
  return new URL(page.url()).pathname
}

/** Asserts that the page is `path` on `origin`, naming what it shows if not. */
export async function expectPage(page, origin, path) {
  const url = new URL(page.url())
  if (url.origin !== origin || url.pathname !== path) {
    const text = await page.evaluate(() => document.body?.innerText ?? '')
    const console = (consoles.get(page) ?? []).slice(-5).join('\n')
    throw new Error(
      `expected ${origin}${path}, the browser is at ${page.url()} showing:\n${text.slice(0, 800)}\n` +
        `its console said:\n${console || '(nothing)'}`,
    )
  }
}

/** Clicks and waits for the navigation it starts to end. */
export async function clickAndWait(page, selector) {
  try {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)])
  } catch (error) {
    const console = (consoles.get(page) ?? []).slice(-5).join('\n')
    throw new Error(
      `clicking ${selector} on ${page.url()}: ${error.message}\nits console said:\n${console || '(nothing)'}`,
    )
  }
}

/**
 * Types `fields` ({id: value}) into the form on the page, takes the
 * screenshot `shot`, and submits with #submit.
 */
export async function fillAndSubmit(page, fields, shot) {
  for (const [id, value] of Object.entries(fields)) {
    await page.$eval(`#${id}`, (input) => {
      input.value = ''
    })
    await page.type(`#${id}`, value)
  }
  await screenshot(page, shot)
  await clickAndWait(page, '#submit')
}

/** Sign-up on the hosted page, reached from the login page's link. */
export async function signUpFromLogin(page, { email, password, name }) {
  await screenshot(page, 'login')
  await clickAndWait(page, '#signup-link')
  await expectPage(page, new URL(page.url()).origin, '/signup')
  await fillAndSubmit(page, { email, password, name }, 'signup')
}

/** Login on the hosted login page the browser is on. */
export async function logIn(page, { email, password }) {
  await expectPage(page, new URL(page.url()).origin, '/login')
  await fillAndSubmit(page, { email, password }, 'login')
}
