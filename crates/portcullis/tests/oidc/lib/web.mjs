// A user agent over plain HTTP, for the tests where a real browser is not
// the point: fetch with redirects left unfollowed (each one is looked at),
// a cookie jar, and the hosted pages' forms read from their markup (whose
// field names and ids the markup contract fixes), submitted as a browser
// would: hidden fields kept, `Origin` the page's origin.

import { client as registeredClient, issuer, issuerOrigin } from './context.mjs'

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Whether `status` sends the user agent elsewhere. */
export function isRedirect(status) {
  return REDIRECTS.has(status)
}

/** `Set-Cookie: name=value; Attr; Attr=v` as {name, value, attributes}. */
export function parseSetCookie(line) {
  const [pair, ...rest] = line.split(';')
  const equals = pair.indexOf('=')
  const attributes = new Map()
  for (const attribute of rest) {
    const at = attribute.indexOf('=')
    const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase()
    const value = at < 0 ? true : attribute.slice(at + 1).trim()
    if (key) attributes.set(key, value)
  }
  return {
    name: pair.slice(0, equals).trim(),
    value: pair.slice(equals + 1).trim(),
    attributes,
    line,
  }
}

/** Whether a `Set-Cookie` deletes its cookie. */
function deletes(cookie) {
  const maxAge = cookie.attributes.get('max-age')
  const expires = cookie.attributes.get('expires')
  return (
    cookie.value === '' ||
    (typeof maxAge === 'string' && Number(maxAge) <= 0) ||
    (typeof expires === 'string' && Date.parse(expires) <= Date.now())
  )
}

/** The cookies one user agent holds for the issuer (one origin, path `/`). */
export class CookieJar {
  #cookies = new Map()

  absorb(setCookies) {
    for (const cookie of setCookies) {
      if (deletes(cookie)) {
        this.#cookies.delete(cookie.name)
      } else {
        this.#cookies.set(cookie.name, cookie.value)
      }
    }
  }

  get(name) {
    return this.#cookies.get(name)
  }

  set(name, value) {
    this.#cookies.set(name, value)
  }

  delete(name) {
    this.#cookies.delete(name)
  }

  header() {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

/** A response read to the end. */
export class Reply {
  constructor(url, response, text) {
    this.url = url
    this.status = response.status
    this.headers = response.headers
    this.text = text
    this.setCookies = response.headers.getSetCookie().map(parseSetCookie)
    const location = response.headers.get('location')
    // A Location no URL parser accepts goes nowhere; `rawLocation` shows it.
    this.rawLocation = location
    this.location = location === null || !URL.canParse(location, url) ? null : new URL(location, url)
  }

  header(name) {
    return this.headers.get(name) ?? ''
  }

  json() {
    try {
      return JSON.parse(this.text)
    } catch {
      throw new Error(`${this.status} from ${this.url} is not JSON: ${this.text.slice(0, 300)}`)
    }
  }

  /** The `Set-Cookie` of `name` in this response, if any. */
  cookie(name) {
    return this.setCookies.find((cookie) => cookie.name === name)
  }

  /** The path of the URL this reply answered. */
  get path() {
    return new URL(this.url).pathname
  }

  /** The response, short, for an assertion's message. */
  describe() {
    const location = this.rawLocation === null ? '' : ` -> ${this.rawLocation}`
    return `${this.status} ${this.url}${location}\n${this.text.slice(0, 600)}`
  }
}

/**
 * One request, its redirect not followed. `form` is sent urlencoded, `json`
 * as JSON; `origin` (a string) is sent as `Origin`; `jar` gives and takes
 * cookies.
 */
export async function send(url, { method = 'GET', jar, form, json, headers = {}, origin } = {}) {
  const requestHeaders = new Headers(headers)
  const cookies = jar?.header()
  if (cookies) requestHeaders.set('cookie', cookies)
  if (origin !== undefined) requestHeaders.set('origin', origin)
  let body
  if (form !== undefined) {
    body = new URLSearchParams(form).toString()
    requestHeaders.set('content-type', 'application/x-www-form-urlencoded')
  }
  if (json !== undefined) {
    body = JSON.stringify(json)
    requestHeaders.set('content-type', 'application/json')
  }
  const href = String(url)
  const response = await fetch(href, { method, headers: requestHeaders, body, redirect: 'manual' })
  const reply = new Reply(href, response, await response.text())
  jar?.absorb(reply.setCookies)
  return reply
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity) => {
    if (entity[0] === '#') {
      const code =
        entity[1] === 'x' || entity[1] === 'X'
          ? Number.parseInt(entity.slice(2), 16)
          : Number.parseInt(entity.slice(1), 10)
      return String.fromCodePoint(code)
    }
    return ENTITIES[entity.toLowerCase()] ?? whole
  })
}

const ATTRIBUTE = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g

function attributes(source) {
  const found = {}
  for (const match of source.matchAll(ATTRIBUTE)) {
    found[match[1].toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '')
  }
  return found
}

/** The forms of a page: action, method, hidden fields, inputs and buttons. */
export function readForms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, open, inner]) => {
    const form = attributes(open)
    const inputs = [...inner.matchAll(/<input\b([^>]*)>/gi)].map((match) => attributes(match[1]))
    const buttons = [...inner.matchAll(/<button\b([^>]*)>/gi)].map((match) => attributes(match[1]))
    const hidden = {}
    for (const input of inputs) {
      if (input.name && (input.type ?? '').toLowerCase() === 'hidden') {
        hidden[input.name] = input.value ?? ''
      }
    }
    return {
      action: form.action ?? '',
      method: (form.method ?? 'get').toLowerCase(),
      hidden,
      inputs,
      buttons,
    }
  })
}

/** The ids of the elements of a page. */
export function elementIds(html) {
  return new Set([...html.matchAll(/<[a-z][^>]*\sid\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]))
}

/** The text of the element with `id` (tags stripped), or undefined. */
export function textOf(html, id) {
  const match = html.match(new RegExp(`<([a-z0-9]+)\\b[^>]*\\sid\\s*=\\s*["']?${id}["']?[^>]*>([\\s\\S]*?)</\\1>`, 'i'))
  return match ? decodeEntities(match[2].replace(/<[^>]*>/g, '')).trim() : undefined
}

/**
 * A user agent: one cookie jar, the issuer's pages submitted as Chromium
 * submits them.
 */
export class Agent {
  constructor() {
    this.jar = new CookieJar()
  }

  get(url, options = {}) {
    return send(url, { ...options, jar: this.jar })
  }

  /** A POST of `form`; `Origin` is the issuer's unless `origin` says otherwise (`null`: none). */
  post(url, form, { origin = issuerOrigin } = {}) {
    return send(url, {
      method: 'POST',
      jar: this.jar,
      form,
      origin: origin ?? undefined,
    })
  }

  /**
   * Submits the form of `page` whose action is `path`: its hidden fields,
   * then `fields`, less the names in `omit`.
   */
  submit(page, path, fields = {}, { origin, omit = [] } = {}) {
    const form = formOf(page, path)
    const values = { ...form.hidden, ...fields }
    for (const name of omit) delete values[name]
    return this.post(new URL(form.action, page.url), values, { origin })
  }

  /**
   * Opens `url` (an authorization request) and goes through the hosted
   * pages as `user` ({email, password}) would: logs in when asked (once),
   * answers `consent` (`allow`, `deny`, or `undefined` to stop there) when
   * asked. Returns {redirect} when the server sends the user agent off the
   * issuer (to the client), else {page}, the page the flow stopped at;
   * `seen` lists the issuer paths on the way.
   */
  async authorize(url, { user, consent } = {}) {
    const seen = []
    let reply = await this.get(url)
    let loggedIn = false
    for (let step = 0; step < 12; step += 1) {
      seen.push(reply.path)
      if (isRedirect(reply.status) && reply.location) {
        if (reply.location.origin !== issuerOrigin) {
          return { redirect: reply.location, seen, reply }
        }
        reply = await this.get(reply.location)
        continue
      }
      if (reply.status === 200 && reply.path === '/login' && user && !loggedIn) {
        loggedIn = true
        reply = await this.submit(reply, '/login', { email: user.email, password: user.password })
        continue
      }
      if (reply.status === 200 && reply.path === '/consent' && consent) {
        reply = await this.submit(reply, '/consent', { decision: consent })
        continue
      }
      return { page: reply, seen }
    }
    throw new Error(`more than 12 steps from ${url}: ${seen.join(' ')}`)
  }
}

/** The form of `page` posting to `path`; throws, showing the page, if none. */
export function formOf(page, path) {
  const form = readForms(page.text).find(
    (candidate) => new URL(candidate.action || page.url, page.url).pathname === path,
  )
  if (!form) {
    throw new Error(`no form posting to ${path} on ${page.describe()}`)
  }
  return form
}

/**
 * A raw request to the token endpoint: `fields` urlencoded, the client
 * authenticated with HTTP Basic when `client` (a label or a registered
 * client) has a secret, else named by `client_id`.
 */
export async function tokenRequest(tokenEndpoint, fields, client) {
  const registered = typeof client === 'string' ? registeredClient(client) : client
  const headers = {}
  const form = { ...fields }
  if (registered?.client_secret) {
    const basic = `${encodeURIComponent(registered.client_id)}:${encodeURIComponent(registered.client_secret)}`
    headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`
  } else if (registered) {
    form.client_id = registered.client_id
  }
  return send(tokenEndpoint, { method: 'POST', form, headers })
}

/** The claims of a JWT, unverified (what a check compares, not trusts). */
export function jwtClaims(token) {
  const [, payload] = token.split('.')
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
}

/** The header of a JWT, unverified. */
export function jwtHeader(token) {
  const [header] = token.split('.')
  return JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))
}

/** `POST /users` on `base` (the issuer unless told); asserts `201`. */
export async function signUpByApi(user, base = issuer) {
  const reply = await send(`${base}/users`, {
    method: 'POST',
    json: { email: user.email, password: user.password, name: user.name },
  })
  if (reply.status !== 201) {
    throw new Error(`sign-up of ${user.email}: ${reply.describe()}`)
  }
  return reply.json()
}
