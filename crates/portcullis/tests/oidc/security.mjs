// The attacks browser sign-in must withstand (RFC 9700, OWASP), each tried
// for real: cross-site request forgery on every form, open redirects after
// login, sign-up and logout, framing (headers, and a real browser asked to
// frame a page), session fixation, cookie flags, code injection and
// substitution, mix-up (`iss`), and caching of pages and token responses.
//
// Clients: "public" (first-party, public) and "confidential" (third-party,
// client_secret_basic), both redirecting to the loopback /callback of the
// script's own server; their post-logout URIs are /signed-out/<label>.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'

import { freshPage, launchBrowser, screenshot } from './lib/browser.mjs'
import { startCallbackServer } from './lib/callback.mjs'
import { PASSWORD, freshEmail, issuer, issuerOrigin, onIssuer } from './lib/context.mjs'
import { authorizationRequest, discover, exchange } from './lib/rp.mjs'
import { Agent, isRedirect, readForms, signUpByApi, textOf, tokenRequest } from './lib/web.mjs'

const EVIL = 'https://evil.example'
const SESSION_COOKIE = 'portcullis_session'
const CSRF_COOKIE = 'portcullis_csrf'

let publicClient
let partner
let chromium
let callback
const user = { email: freshEmail('security'), password: PASSWORD, name: 'Mallory Target' }

before(async () => {
  publicClient = await discover('public')
  partner = await discover('confidential')
  await signUpByApi(user)
  chromium = await launchBrowser()
  callback = await startCallbackServer({
    '/framing': framingPage(),
  })
})

after(async () => {
  await chromium?.close()
  await callback?.close()
})

/** A page of another origin that tries to frame the issuer's pages. */
function framingPage() {
  return (
    '<!doctype html><html lang="en"><head><title>Framing</title></head><body>' +
    `<iframe id="login" name="login" src="${onIssuer('/login')}" width="400" height="300"></iframe>` +
    '<iframe id="control" name="control" src="/callback?framed=yes" width="400" height="300"></iframe>' +
    '</body></html>'
  )
}

/** A user who has consented to nothing yet. */
async function newUser(who) {
  const newcomer = { email: freshEmail(who), password: PASSWORD }
  await signUpByApi(newcomer)
  return newcomer
}

/** A user agent that has logged in as `as` (through an authorization of `rp`). */
async function signedInAgent(rp = publicClient, as = user) {
  const agent = new Agent()
  const request = await authorizationRequest(rp.config, rp.registered)
  const stop = await agent.authorize(request.url, { user: as, consent: 'allow' })
  assert.ok(stop.redirect?.searchParams.get('code'), `signed in, got ${stop.page?.describe()}`)
  return { agent, request, redirect: stop.redirect }
}

/** Whether the agent's browser session is alive: prompt=none gives a code. */
async function hasSession(agent) {
  const request = await authorizationRequest(publicClient.config, publicClient.registered, { prompt: 'none' })
  const stop = await agent.authorize(request.url)
  assert.ok(stop.redirect, `prompt=none redirects, got ${stop.page?.describe()}`)
  return stop.redirect.searchParams.has('code')
}

/** The directives of a Content-Security-Policy, by name. */
function directives(policy) {
  return new Map(
    policy
      .split(';')
      .map((directive) => directive.trim())
      .filter(Boolean)
      .map((directive) => {
        const [name, ...values] = directive.split(/\s+/)
        return [name.toLowerCase(), values.join(' ')]
      }),
  )
}

/** What every hosted page is sent with. */
function checkPageHeaders(reply, what) {
  assert.ok(reply.status < 500, `${what}: ${reply.describe()}`)
  assert.ok(reply.header('content-type').startsWith('text/html'), `${what}: HTML`)
  assert.equal(reply.header('x-frame-options').toUpperCase(), 'DENY', `${what}: X-Frame-Options`)
  const policy = directives(reply.header('content-security-policy'))
  assert.equal(policy.get('frame-ancestors'), "'none'", `${what}: frame-ancestors 'none'`)
  assert.equal(policy.get('default-src'), "'none'", `${what}: default-src 'none'`)
  assert.ok(!policy.get('script-src'), `${what}: no script allowed`)
  assert.ok(reply.header('cache-control').includes('no-store'), `${what}: Cache-Control no-store`)
  assert.match(reply.text, /<html[^>]*\slang=["']?en/i, `${what}: lang="en"`)
}

test('every hosted page refuses framing, caches nothing, allows no script and has lang="en"', async () => {
  const anonymous = new Agent()
  const token = randomBytes(32).toString('base64url')
  const pages = [
    ['/login', await anonymous.get(onIssuer('/login'))],
    ['/signup', await anonymous.get(onIssuer('/signup'))],
    ['/password/forgot', await anonymous.get(onIssuer('/password/forgot'))],
    ['/password/reset', await anonymous.get(onIssuer(`/password/reset?token=${token}`))],
    ['/email/verify', await anonymous.get(onIssuer(`/email/verify?token=${token}`))],
    ['/logout', await anonymous.get(onIssuer('/logout'))],
    ['/authorize for an unknown client', await anonymous.get(onIssuer('/authorize?client_id=nobody&response_type=code'))],
  ]
  const loginPage = pages[0][1]
  pages.push([
    'a failed login',
    await anonymous.submit(loginPage, '/login', { email: user.email, password: 'not the password at all' }),
  ])
  pages.push(['a forged login', await anonymous.submit(loginPage, '/login', {}, { omit: ['csrf'] })])
  const { agent } = await signedInAgent(publicClient, await newUser('pages'))
  pages.push(['/account', await agent.get(onIssuer('/account'))])
  const consent = await agent.authorize(
    (await authorizationRequest(partner.config, partner.registered)).url,
  )
  assert.equal(consent.page?.path, '/consent', 'a third-party client asks for consent')
  pages.push(['/consent', consent.page])
  for (const [what, reply] of pages) {
    checkPageHeaders(reply, what)
  }
})

test('a real browser does not show the login page inside another site\'s frame', async () => {
  const page = await freshPage(chromium.browser)
  await page.goto(callback.url('/framing'), { waitUntil: 'load' })
  await new Promise((resolve) => setTimeout(resolve, 500))
  await screenshot(page, 'framing-refused')
  const frames = page.frames()
  const control = frames.find((frame) => frame.name() === 'control')
  const login = frames.find((frame) => frame.name() === 'login')
  assert.ok(control && login, `both frames are there: ${frames.map((frame) => frame.name())}`)
  assert.ok(await control.$('h1'), 'the method works: a frameable page shows')
  assert.ok(!(await login.$('#email')), 'the login form is not shown in a frame')
  await page.close()
})

test('a failed login says "The email or password is incorrect." next to the form, and opens no session', async () => {
  const agent = new Agent()
  const page = await agent.get(onIssuer('/login'))
  for (const email of [user.email, freshEmail('nobody')]) {
    const reply = await agent.submit(page, '/login', { email, password: 'not the password at all' })
    assert.equal(reply.status, 400, reply.describe())
    assert.equal(textOf(reply.text, 'form-error'), 'The email or password is incorrect.')
    assert.equal(reply.cookie(SESSION_COOKIE), undefined, 'no session cookie')
  }
})

/** The values a form's visible inputs get in a forged submission. */
function plausibleValues(form) {
  const values = {}
  for (const input of form.inputs) {
    const type = (input.type ?? 'text').toLowerCase()
    if (!input.name || type === 'hidden' || type === 'submit') continue
    values[input.name] = type === 'password' ? PASSWORD : type === 'email' ? user.email : 'forged'
  }
  for (const button of form.buttons) {
    if (button.name) values[button.name] = button.value ?? ''
  }
  return values
}

/**
 * Every POST form of `page` refuses a submission without the csrf field,
 * with another value, without the csrf cookie, or from another origin.
 */
async function checkForgeries(agent, page, what) {
  const forms = readForms(page.text).filter((form) => form.method === 'post')
  assert.ok(forms.length > 0, `${what}: a form to forge (${page.describe()})`)
  for (const form of forms) {
    const path = new URL(form.action || page.url, page.url).pathname
    assert.ok('csrf' in form.hidden, `${what} ${path}: the form carries csrf`)
    const values = plausibleValues(form)
    const forgeries = [
      ['without csrf', () => agent.submit(page, path, values, { omit: ['csrf'] })],
      ['with a wrong csrf', () => agent.submit(page, path, { ...values, csrf: randomBytes(16).toString('base64url') })],
      ['from another origin', () => agent.submit(page, path, values, { origin: EVIL })],
      ['from a sandboxed frame (Origin: null)', () => agent.submit(page, path, values, { origin: 'null' })],
      [
        'without the csrf cookie',
        async () => {
          const cookie = agent.jar.get(CSRF_COOKIE)
          agent.jar.delete(CSRF_COOKIE)
          try {
            return await agent.submit(page, path, values)
          } finally {
            agent.jar.set(CSRF_COOKIE, cookie)
          }
        },
      ],
    ]
    for (const [how, forge] of forgeries) {
      const sessionBefore = agent.jar.get(SESSION_COOKIE)
      const reply = await forge()
      assert.equal(reply.status, 403, `${what} ${path} ${how}: ${reply.describe()}`)
      assert.ok(!isRedirect(reply.status))
      assert.equal(reply.cookie(SESSION_COOKIE), undefined, `${what} ${path} ${how}: no session cookie`)
      assert.equal(agent.jar.get(SESSION_COOKIE), sessionBefore)
    }
  }
}

test('CSRF: every form refuses a forged POST with 403, and the real one works', async () => {
  const anonymous = new Agent()
  for (const path of ['/login', '/signup', '/password/forgot']) {
    await checkForgeries(anonymous, await anonymous.get(onIssuer(path)), path)
  }
  assert.equal(anonymous.jar.get(SESSION_COOKIE), undefined, 'no forged login or sign-up went through')

  const { agent } = await signedInAgent(publicClient, await newUser('forgeries'))
  await checkForgeries(agent, await agent.get(onIssuer('/account')), '/account')
  const consent = await agent.authorize((await authorizationRequest(partner.config, partner.registered)).url)
  assert.equal(consent.page?.path, '/consent')
  await checkForgeries(agent, consent.page, '/consent')
  await checkForgeries(agent, await agent.get(onIssuer('/logout')), '/logout')
  assert.ok(await hasSession(agent), 'no forged logout or revocation went through')

  const login = await anonymous.get(onIssuer('/login'))
  const genuine = await anonymous.submit(login, '/login', { email: user.email, password: user.password })
  assert.equal(genuine.status, 303, `the genuine login works: ${genuine.describe()}`)
  const withoutOrigin = new Agent()
  const page = await withoutOrigin.get(onIssuer('/login'))
  const noOrigin = await withoutOrigin.submit(page, '/login', { email: user.email, password: user.password }, { origin: null })
  assert.equal(noOrigin.status, 303, `no Origin at all (an older browser) with the token works: ${noOrigin.describe()}`)
})

/**
 * Not local paths (the contract's examples, and anything that does not
 * start with one `/`): replaced by /account.
 */
const OFF_SITE = [
  '//evil.example',
  'https://evil.example',
  'https://evil.example/account',
  'https:evil.example',
  '\\\\evil.example',
  ' //evil.example',
  'javascript:alert(1)',
  `${issuerOrigin}@evil.example/`,
]

/**
 * Paths that browsers may read as another host: whatever the server makes
 * of them, the user stays on the issuer.
 */
const DISGUISED = ['/\\evil.example', '///evil.example', '/%2F/evil.example']

/** Where a redirect goes: on the issuer, to `path` when one is named. */
function checkLandsOn(reply, path, what) {
  assert.equal(reply.status, 303, `${what}: ${reply.describe()}`)
  assert.ok(reply.location, `${what}: a Location a browser can follow: ${reply.rawLocation}`)
  assert.equal(reply.location.origin, issuerOrigin, `${what}: stays on the issuer, went to ${reply.rawLocation}`)
  if (path !== undefined) {
    assert.equal(reply.location.pathname, path, `${what}: ${reply.rawLocation}`)
  }
}

test('open redirect: login and sign-up send an off-site return_to to /account', async () => {
  const cases = [
    ...OFF_SITE.map((target) => [target, '/account']),
    ...DISGUISED.map((target) => [target, undefined]),
  ]
  for (const [target, landing] of cases) {
    const viaLink = new Agent()
    const page = await viaLink.get(onIssuer(`/login?return_to=${encodeURIComponent(target)}`))
    assert.equal(page.status, 200, page.describe())
    checkLandsOn(
      await viaLink.submit(page, '/login', { email: user.email, password: user.password }),
      landing,
      `login, return_to=${target} in the link`,
    )
    const viaForm = new Agent()
    const plain = await viaForm.get(onIssuer('/login'))
    checkLandsOn(
      await viaForm.submit(plain, '/login', { email: user.email, password: user.password, return_to: target }),
      landing,
      `login, return_to=${target} posted`,
    )
  }
  const signUp = new Agent()
  const page = await signUp.get(onIssuer(`/signup?return_to=${encodeURIComponent('//evil.example')}`))
  checkLandsOn(
    await signUp.submit(page, '/signup', { email: freshEmail('redirect'), password: PASSWORD }),
    '/account',
    'sign-up with return_to=//evil.example',
  )
  const local = new Agent()
  const localPage = await local.get(onIssuer(`/login?return_to=${encodeURIComponent('/password/forgot')}`))
  checkLandsOn(
    await local.submit(localPage, '/login', { email: user.email, password: user.password }),
    '/password/forgot',
    'a local return_to is kept',
  )
})

test('logout redirects only to a post-logout URI registered for the ID token\'s client', async () => {
  const signIn = async (rp) => {
    const flow = await signedInAgent(rp)
    return { agent: flow.agent, tokens: await exchange(rp.config, flow.request, flow.redirect) }
  }
  const { agent, tokens } = await signIn(publicClient)
  const partnerHint = (await signIn(partner)).tokens.id_token
  const registered = publicClient.registered.post_logout_redirect_uri
  const tampered = `${tokens.id_token.slice(0, -4)}${tokens.id_token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`
  const refusals = [
    ['an unregistered URI', { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${EVIL}/` }],
    ['no id_token_hint', { post_logout_redirect_uri: registered }],
    ['the hint of a client that did not register the URI', { id_token_hint: partnerHint, post_logout_redirect_uri: registered }],
    ['a tampered hint', { id_token_hint: tampered, post_logout_redirect_uri: registered }],
  ]
  for (const [what, parameters] of refusals) {
    const reply = await agent.get(onIssuer(`/logout?${new URLSearchParams({ ...parameters, state: 's' })}`))
    assert.ok(!isRedirect(reply.status), `${what}: no redirect, got ${reply.describe()}`)
    assert.equal(reply.status, 200, `${what}: the confirmation page`)
    assert.ok(readForms(reply.text).some((form) => new URL(form.action, reply.url).pathname === '/logout/confirm'))
  }
  assert.ok(await hasSession(agent), 'showing the confirmation page ends nothing')
  const page = await agent.get(onIssuer(`/logout?${new URLSearchParams(refusals[0][1])}`))
  const confirmed = await agent.submit(page, '/logout/confirm')
  assert.ok(
    !isRedirect(confirmed.status) || confirmed.location.origin === issuerOrigin,
    `confirming never goes off-site: ${confirmed.describe()}`,
  )
  const signedOut = isRedirect(confirmed.status) ? await agent.get(confirmed.location) : confirmed
  assert.match(signedOut.text, /You are signed out/)
  assert.ok(!(await hasSession(agent)), 'the confirmation ended the session')

  const again = await signIn(publicClient)
  const valid = await again.agent.get(
    onIssuer(
      `/logout?${new URLSearchParams({ id_token_hint: again.tokens.id_token, post_logout_redirect_uri: registered, state: 'kept' })}`,
    ),
  )
  assert.equal(valid.status, 303, `a registered URI and a valid hint redirect: ${valid.describe()}`)
  assert.equal(`${valid.location.origin}${valid.location.pathname}`, registered)
  assert.equal(valid.location.searchParams.get('state'), 'kept')
  assert.ok(!(await hasSession(again.agent)), 'and end the browser session')
})

test('session fixation: the session cookie is new at every login and sign-up', async () => {
  const planted = `planted-${randomBytes(24).toString('base64url')}`
  const victim = new Agent()
  victim.jar.set(SESSION_COOKIE, planted)
  const page = await victim.get(onIssuer('/login'))
  const login = await victim.submit(page, '/login', { email: user.email, password: user.password })
  assert.equal(login.status, 303, login.describe())
  const first = login.cookie(SESSION_COOKIE)?.value
  assert.ok(first && first !== planted, 'login sets a session cookie of its own')
  const attacker = new Agent()
  attacker.jar.set(SESSION_COOKIE, planted)
  assert.ok(!(await hasSession(attacker)), 'the planted value is no session')

  const request = await authorizationRequest(publicClient.config, publicClient.registered, { prompt: 'login' })
  const relogin = await victim.authorize(request.url, { user })
  assert.ok(relogin.redirect?.searchParams.get('code'), `logged in again: ${relogin.page?.describe()}`)
  const second = victim.jar.get(SESSION_COOKIE)
  assert.ok(second && second !== first, 'a second login gets a new session cookie')

  const newcomer = new Agent()
  newcomer.jar.set(SESSION_COOKIE, planted)
  const signup = await newcomer.get(onIssuer('/signup'))
  const created = await newcomer.submit(signup, '/signup', { email: freshEmail('fixation'), password: PASSWORD })
  assert.equal(created.status, 303, created.describe())
  const value = created.cookie(SESSION_COOKIE)?.value
  assert.ok(value && value !== planted, 'sign-up sets a session cookie of its own')
})

test('cookie flags: the session is HttpOnly, SameSite=Lax, Path=/; the CSRF cookie Strict', async () => {
  const agent = new Agent()
  const page = await agent.get(onIssuer('/login'))
  const csrf = page.cookie(CSRF_COOKIE)
  assert.ok(csrf, `the login page sets ${CSRF_COOKIE}`)
  assert.equal(csrf.attributes.get('httponly'), true, 'csrf: HttpOnly')
  assert.equal(String(csrf.attributes.get('samesite')).toLowerCase(), 'strict', 'csrf: SameSite=Strict')
  assert.equal(csrf.attributes.get('path'), '/', 'csrf: Path=/')
  const login = await agent.submit(page, '/login', { email: user.email, password: user.password })
  const session = login.cookie(SESSION_COOKIE)
  assert.ok(session, `login sets ${SESSION_COOKIE} (over http, without __Host-)`)
  assert.equal(session.attributes.get('httponly'), true, 'session: HttpOnly')
  assert.equal(String(session.attributes.get('samesite')).toLowerCase(), 'lax', 'session: SameSite=Lax')
  assert.equal(session.attributes.get('path'), '/', 'session: Path=/')
  assert.ok(!session.attributes.has('domain'), 'session: no Domain (this host only)')
  assert.ok(!session.attributes.has('secure'), 'session: not Secure over http (a browser would drop it)')
  assert.equal(login.cookie(`__Host-${SESSION_COOKIE}`), undefined)
})

test('code substitution: a code issued to one client is refused to another', async () => {
  const endpoint = publicClient.config.serverMetadata().token_endpoint
  const ofPublic = await signedInAgent(publicClient)
  const stolen = await tokenRequest(
    endpoint,
    {
      grant_type: 'authorization_code',
      code: ofPublic.redirect.searchParams.get('code'),
      redirect_uri: ofPublic.request.parameters.redirect_uri,
      code_verifier: ofPublic.request.codeVerifier,
    },
    'confidential',
  )
  assert.equal(stolen.status, 400, stolen.describe())
  assert.equal(stolen.json().error, 'invalid_grant')
  const ofPartner = await signedInAgent(partner)
  const posed = await tokenRequest(
    endpoint,
    {
      grant_type: 'authorization_code',
      code: ofPartner.redirect.searchParams.get('code'),
      redirect_uri: ofPartner.request.parameters.redirect_uri,
      code_verifier: ofPartner.request.codeVerifier,
    },
    'public',
  )
  assert.equal(posed.status, 400, posed.describe())
  assert.ok(['invalid_grant', 'invalid_client'].includes(posed.json().error), posed.describe())
})

test('code injection: a code is bound to the PKCE challenge of its own request', async () => {
  const { agent } = await signedInAgent()
  const victimRequest = await authorizationRequest(publicClient.config, publicClient.registered)
  const attackerRequest = await authorizationRequest(publicClient.config, publicClient.registered)
  const attackerStop = await agent.authorize(attackerRequest.url)
  const injected = attackerStop.redirect.searchParams.get('code')
  const reply = await tokenRequest(
    publicClient.config.serverMetadata().token_endpoint,
    {
      grant_type: 'authorization_code',
      code: injected,
      redirect_uri: victimRequest.parameters.redirect_uri,
      code_verifier: victimRequest.codeVerifier,
    },
    'public',
  )
  assert.equal(reply.status, 400, reply.describe())
  assert.equal(reply.json().error, 'invalid_grant')
})

test('mix-up: every kind of authorization response names this issuer in iss', async () => {
  const { agent } = await signedInAgent()
  const responses = []
  const success = await authorizationRequest(publicClient.config, publicClient.registered)
  responses.push(['a code', (await agent.authorize(success.url)).redirect])
  const refused = await authorizationRequest(publicClient.config, publicClient.registered, { code_challenge_method: 'plain' })
  responses.push(['invalid_request', (await agent.authorize(refused.url)).redirect])
  const noSession = await authorizationRequest(publicClient.config, publicClient.registered, { prompt: 'none' })
  responses.push(['login_required', (await new Agent().authorize(noSession.url)).redirect])
  const denied = await authorizationRequest(partner.config, partner.registered)
  const denies = await newUser('denies')
  responses.push(['access_denied', (await new Agent().authorize(denied.url, { user: denies, consent: 'deny' })).redirect])
  for (const [what, redirect] of responses) {
    assert.ok(redirect, `${what}: a redirect to the client`)
    assert.equal(redirect.searchParams.get('iss'), issuer, `${what}: ${redirect}`)
  }
})

test('token responses are never cached, granted or refused', async () => {
  const { request, redirect } = await signedInAgent()
  const endpoint = publicClient.config.serverMetadata().token_endpoint
  const granted = await tokenRequest(
    endpoint,
    {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code'),
      redirect_uri: request.parameters.redirect_uri,
      code_verifier: request.codeVerifier,
    },
    'public',
  )
  assert.equal(granted.status, 200, granted.describe())
  const refused = await tokenRequest(endpoint, { grant_type: 'authorization_code', code: 'nope', redirect_uri: request.parameters.redirect_uri, code_verifier: request.codeVerifier }, 'public')
  for (const [what, reply] of [['a token response', granted], ['a token error', refused]]) {
    assert.ok(reply.header('cache-control').includes('no-store'), `${what}: Cache-Control no-store`)
  }
})
