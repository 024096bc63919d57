// The intent of the OpenID Foundation's Basic OP conformance modules that
// apply to Portcullis (oidcc-server, oidcc-codereuse, oidcc-ensure-
// registered-redirect-uri, oidcc-prompt-none-not-logged-in, oidcc-max-age-1,
// oidcc-prompt-login, oidcc-ensure-request-with-valid-pkce-succeeds and its
// PKCE refusals, oidcc-refresh-token, oidcc-userinfo-get/post, RFC 9207),
// with openid-client as the relying party and a plain-HTTP user agent on
// the hosted pages (no browser is needed to see a redirect).
//
// Clients: "public" (first-party, public) and "confidential" (third-party,
// client_secret_basic), both redirecting to the same loopback /callback.

import assert from 'node:assert/strict'
import { before, test } from 'node:test'

import { PASSWORD, context, freshEmail, issuer } from './lib/context.mjs'
import {
  audiences,
  authorizationRequest,
  checkDiscovery,
  discover,
  exchange,
  oidc,
  userinfoRequest,
} from './lib/rp.mjs'
import { Agent, isRedirect, jwtClaims, send, signUpByApi, tokenRequest } from './lib/web.mjs'

let publicClient
let partner
const user = { email: freshEmail('basic-op'), password: PASSWORD, name: 'Grace Hopper' }

before(async () => {
  publicClient = await discover('public')
  partner = await discover('confidential')
  await signUpByApi(user)
})

/**
 * A fresh user agent signs in (logging in, consenting when asked) for
 * `rp`; asserts that it is sent back to the redirect URI with a code.
 */
async function authorize(rp, extra = {}, agent = new Agent()) {
  const request = await authorizationRequest(rp.config, rp.registered, extra)
  const stop = await agent.authorize(request.url, { user, consent: 'allow' })
  assert.ok(stop.redirect, `sent back to the client, not stopped at ${stop.page?.describe()}`)
  checkResponse(stop.redirect, request)
  assert.ok(stop.redirect.searchParams.get('code'), `a code: ${stop.redirect}`)
  return { agent, request, redirect: stop.redirect }
}

/** Signs in and exchanges the code with openid-client. */
async function signIn(rp, extra = {}, agent = new Agent()) {
  const flow = await authorize(rp, extra, agent)
  const tokens = await exchange(rp.config, flow.request, flow.redirect)
  return { ...flow, tokens }
}

/**
 * An authorization response: at the redirect URI of the request, with its
 * state and this issuer's iss (RFC 9207).
 */
function checkResponse(redirect, request) {
  assert.equal(`${redirect.origin}${redirect.pathname}`, request.parameters.redirect_uri)
  assert.equal(redirect.searchParams.get('state'), request.state, 'state comes back unchanged')
  assert.equal(redirect.searchParams.get('iss'), issuer, 'RFC 9207: iss on every authorization response')
}

/** An error redirected to the client: `error`, state, iss, and no code. */
function checkErrorResponse(redirect, request, error) {
  checkResponse(redirect, request)
  assert.equal(redirect.searchParams.get('error'), error, `error: ${redirect}`)
  assert.equal(redirect.searchParams.get('code'), null, 'no code with an error')
}

/** An OAuth error from the token endpoint (RFC 6749 §5.2). */
function checkTokenError(reply, errors) {
  assert.equal(reply.status, 400, reply.describe())
  assert.ok(reply.header('cache-control').includes('no-store'), 'token responses are not cached')
  const body = reply.json()
  assert.ok([errors].flat().includes(body.error), `error ${body.error}, expected ${errors}`)
}

/** An error page: never a redirect, whatever the parameters ask. */
function checkErrorPage(reply, what) {
  assert.ok(!isRedirect(reply.status), `${what}: no redirect, got ${reply.describe()}`)
  assert.equal(reply.location, null, `${what}: no Location`)
  assert.ok(reply.status >= 400 && reply.status < 500, `${what}: a 4xx page, got ${reply.status}`)
  assert.ok(reply.header('content-type').startsWith('text/html'), `${what}: an HTML page`)
}

/** The authorization code exchanged by hand, with `fields` changed. */
function rawExchange(rp, flow, fields = {}, client = rp.registered) {
  const form = {
    grant_type: 'authorization_code',
    code: flow.redirect.searchParams.get('code'),
    redirect_uri: flow.request.parameters.redirect_uri,
    code_verifier: flow.request.codeVerifier,
    ...fields,
  }
  for (const [name, value] of Object.entries(form)) {
    if (value === undefined) delete form[name]
  }
  return tokenRequest(rp.config.serverMetadata().token_endpoint, form, client)
}

test('discovery: every endpoint, S256 only, iss on responses, RS256 ID tokens', () => {
  checkDiscovery(publicClient.config.serverMetadata())
})

test('the ID token carries the nonce, the client as audience, and the user', async () => {
  const { tokens, request } = await signIn(publicClient)
  const claims = tokens.claims()
  assert.equal(claims.nonce, request.nonce)
  assert.deepEqual(audiences(claims), [publicClient.registered.client_id])
  assert.equal(claims.email, user.email)
  for (const claim of ['iss', 'sub', 'exp', 'iat', 'auth_time', 'sid']) {
    assert.ok(claims[claim] !== undefined, `${claim} in the ID token`)
  }
})

test('state comes back exactly as sent, however it is spelt', async () => {
  const awkward = 'a b+c&d=e/f?g%h#i'
  const { redirect } = await authorize(publicClient, { state: awkward })
  assert.equal(redirect.searchParams.get('state'), awkward)
})

test('a code works once: the second exchange is invalid_grant and revokes what the first issued', async () => {
  const flow = await signIn(publicClient)
  const second = await rawExchange(publicClient, flow)
  checkTokenError(second, 'invalid_grant')
  const refresh = await tokenRequest(
    publicClient.config.serverMetadata().token_endpoint,
    { grant_type: 'refresh_token', refresh_token: flow.tokens.refresh_token },
    'public',
  )
  checkTokenError(refresh, 'invalid_grant')
  const info = await userinfoRequest(flow.tokens.access_token)
  assert.equal(info.status, 401, `the first access token is revoked too: ${info.describe()}`)
})

test('an unknown client or an unregistered redirect URI gets an error page, never a redirect', async () => {
  const registered = publicClient.registered.redirect_uri
  const cases = [
    ['another path', { redirect_uri: registered.replace('/callback', '/elsewhere') }],
    ['another host', { redirect_uri: 'https://evil.example/callback' }],
    ['https instead of http', { redirect_uri: registered.replace('http:', 'https:') }],
    ['a longer path', { redirect_uri: `${registered}/more` }],
    ['an added query', { redirect_uri: `${registered}?next=1` }],
    ['an unknown client', { client_id: 'no-such-client' }],
  ]
  for (const [what, override] of cases) {
    const request = await authorizationRequest(publicClient.config, publicClient.registered, override)
    checkErrorPage(await send(request.url), what)
  }
})

test('a registered loopback redirect URI may come back on another port (RFC 8252)', async () => {
  const registered = new URL(publicClient.registered.redirect_uri)
  registered.port = String(context.callback_port === 65535 ? 65534 : context.callback_port + 1)
  const flow = await authorize(publicClient, { redirect_uri: registered.href })
  assert.equal(flow.redirect.port, registered.port)
  const tokens = await exchange(publicClient.config, flow.request, flow.redirect)
  assert.equal(typeof tokens.id_token, 'string')
})

test('PKCE is required: no challenge, the plain method or no method is refused', async () => {
  const agent = new Agent()
  await authorize(publicClient, {}, agent)
  const cases = [
    ['no code_challenge', { code_challenge: undefined, code_challenge_method: undefined }],
    ['code_challenge_method=plain', { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }],
    ['a code_challenge without a method (plain by default)', { code_challenge_method: undefined }],
  ]
  for (const [what, override] of cases) {
    const request = await authorizationRequest(publicClient.config, publicClient.registered, override)
    const stop = await agent.authorize(request.url)
    assert.ok(stop.redirect, `${what}: an error redirect, got ${stop.page?.describe()}`)
    checkErrorResponse(stop.redirect, request, 'invalid_request')
  }
})

test('the code_verifier must be sent, and be the right one', async () => {
  const missing = await authorize(publicClient)
  checkTokenError(await rawExchange(publicClient, missing, { code_verifier: undefined }), [
    'invalid_grant',
    'invalid_request',
  ])
  const wrong = await authorize(publicClient)
  checkTokenError(
    await rawExchange(publicClient, wrong, { code_verifier: oidc.randomPKCECodeVerifier() }),
    'invalid_grant',
  )
})

test('the redirect_uri of the exchange must be that of the request', async () => {
  const flow = await authorize(publicClient)
  const other = new URL(flow.request.parameters.redirect_uri)
  other.pathname = '/elsewhere'
  checkTokenError(await rawExchange(publicClient, flow, { redirect_uri: other.href }), 'invalid_grant')
})

test('prompt=none without a session: login_required, with state and iss', async () => {
  const request = await authorizationRequest(publicClient.config, publicClient.registered, { prompt: 'none' })
  const stop = await new Agent().authorize(request.url)
  assert.ok(stop.redirect, `a redirect, got ${stop.page?.describe()}`)
  checkErrorResponse(stop.redirect, request, 'login_required')
})

test('prompt=none with a session answers at once with a code', async () => {
  const agent = new Agent()
  await authorize(publicClient, {}, agent)
  const request = await authorizationRequest(publicClient.config, publicClient.registered, { prompt: 'none' })
  const stop = await agent.authorize(request.url)
  assert.ok(stop.redirect?.searchParams.get('code'), `a code, got ${stop.page?.describe() ?? stop.redirect}`)
  checkResponse(stop.redirect, request)
})

test('prompt=login asks for the password again though a session exists', async () => {
  const agent = new Agent()
  await authorize(publicClient, {}, agent)
  const request = await authorizationRequest(publicClient.config, publicClient.registered, { prompt: 'login' })
  const stop = await agent.authorize(request.url)
  assert.equal(stop.page?.path, '/login', `the login page, got ${stop.redirect ?? stop.page?.describe()}`)
  const returnTo = new URL(stop.page.url).searchParams.get('return_to')
  assert.ok(returnTo?.startsWith('/authorize?'), `return_to is the authorization: ${returnTo}`)
  assert.equal(new URL(returnTo, issuer).searchParams.get('prompt'), null, 'without prompt=login')
})

test('max_age=1: an older login is asked again, and auth_time is the new one', async () => {
  const agent = new Agent()
  const first = await signIn(publicClient, {}, agent)
  const firstAuthTime = first.tokens.claims().auth_time
  const young = await authorizationRequest(publicClient.config, publicClient.registered, { max_age: '3600' })
  const stillValid = await agent.authorize(young.url)
  assert.ok(stillValid.redirect?.searchParams.get('code'), 'a login younger than max_age is enough')
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const request = await authorizationRequest(publicClient.config, publicClient.registered, { max_age: '1' })
  const stop = await agent.authorize(request.url)
  assert.equal(stop.page?.path, '/login', `the login page again, got ${stop.redirect ?? stop.page?.describe()}`)
  const again = await agent.authorize(request.url, { user })
  assert.ok(again.redirect, `a code after logging in, got ${again.page?.describe()}`)
  checkResponse(again.redirect, request)
  // openid-client checks that auth_time is there and within max_age.
  const tokens = await exchange(publicClient.config, request, again.redirect, { maxAge: 1 })
  assert.ok(tokens.claims().auth_time > firstAuthTime, 'auth_time moved to the new login')
})

test('a refresh keeps the user and the claims', async () => {
  const { tokens } = await signIn(partner)
  const claims = tokens.claims()
  const refreshed = await oidc.refreshTokenGrant(partner.config, tokens.refresh_token)
  const access = jwtClaims(refreshed.access_token)
  assert.equal(access.sub, claims.sub)
  assert.equal(access.client_id, partner.registered.client_id)
  if (refreshed.id_token) {
    const again = refreshed.claims()
    for (const claim of ['iss', 'sub', 'aud', 'email', 'email_verified', 'name', 'auth_time']) {
      assert.deepEqual(again[claim], claims[claim], `${claim} is kept`)
    }
  }
  const info = await oidc.fetchUserInfo(partner.config, refreshed.access_token, claims.sub)
  assert.equal(info.email, user.email)
  assert.equal(info.name, user.name)
})

test('a refresh token works only for the client it was issued to', async () => {
  const ofPublic = await signIn(publicClient)
  const ofPartner = await signIn(partner)
  const endpoint = publicClient.config.serverMetadata().token_endpoint
  checkTokenError(
    await tokenRequest(endpoint, { grant_type: 'refresh_token', refresh_token: ofPublic.tokens.refresh_token }, 'confidential'),
    'invalid_grant',
  )
  checkTokenError(
    await tokenRequest(endpoint, { grant_type: 'refresh_token', refresh_token: ofPartner.tokens.refresh_token }, 'public'),
    'invalid_grant',
  )
})

test('response_type must be code', async () => {
  const agent = new Agent()
  await authorize(publicClient, {}, agent)
  const request = await authorizationRequest(publicClient.config, publicClient.registered, {
    response_type: 'token',
  })
  const stop = await agent.authorize(request.url)
  assert.ok(stop.redirect, `an error redirect, got ${stop.page?.describe()}`)
  // In the query (the only response mode offered) or, as RFC 6749 §4.2.2.1
  // has it for the implicit grant, in the fragment.
  const query = stop.redirect.searchParams
  const fragment = new URLSearchParams(stop.redirect.hash.slice(1))
  const response = query.has('error') ? query : fragment
  assert.equal(response.get('error'), 'unsupported_response_type', `${stop.redirect}`)
  assert.equal(response.get('state'), request.state)
  assert.equal(response.get('iss'), issuer)
  assert.ok(!response.has('access_token') && !response.has('code'), 'nothing issued')
})

test('a third-party client is refused when the user denies consent', async () => {
  const newcomer = { email: freshEmail('denies'), password: PASSWORD }
  await signUpByApi(newcomer)
  const request = await authorizationRequest(partner.config, partner.registered)
  const stop = await new Agent().authorize(request.url, { user: newcomer, consent: 'deny' })
  assert.ok(stop.redirect, `a redirect, got ${stop.page?.describe()}`)
  checkErrorResponse(stop.redirect, request, 'access_denied')
})

test('userinfo answers GET and POST with the token, and 401 without', async () => {
  const { tokens } = await signIn(publicClient)
  for (const method of ['GET', 'POST']) {
    const reply = await userinfoRequest(tokens.access_token, method)
    assert.equal(reply.status, 200, `${method}: ${reply.describe()}`)
    assert.equal(reply.json().sub, tokens.claims().sub)
    assert.equal(reply.json().email, user.email)
  }
  const anonymous = await userinfoRequest(undefined)
  assert.equal(anonymous.status, 401)
  assert.ok(anonymous.header('www-authenticate').startsWith('Bearer'), 'a Bearer challenge')
})
