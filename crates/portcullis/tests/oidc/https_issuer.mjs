// A server whose issuer is https:// (TLS ended by a proxy in front of it),
// reached here over plain http at `base`: its session cookie is
// `__Host-portcullis_session`, Secure, HttpOnly, SameSite=Lax, Path=/, no
// Domain; and its forms accept the issuer's origin only, not the address
// the request happened to reach.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { PASSWORD, context, freshEmail, issuerOrigin } from './lib/context.mjs'
import { Agent, signUpByApi } from './lib/web.mjs'

const base = context.base

test('the session cookie of an https issuer is __Host- prefixed and Secure', async () => {
  const user = { email: freshEmail('https'), password: PASSWORD }
  await signUpByApi(user, base)
  const agent = new Agent()
  const page = await agent.get(`${base}/login`)
  assert.equal(page.status, 200, page.describe())
  const fromAddress = await agent.submit(page, '/login', user, { origin: new URL(base).origin })
  assert.equal(fromAddress.status, 403, `the origin is the issuer's, not the address: ${fromAddress.describe()}`)
  const login = await agent.submit(page, '/login', user, { origin: issuerOrigin })
  assert.equal(login.status, 303, login.describe())
  const session = login.cookie('__Host-portcullis_session')
  assert.ok(session, `__Host-portcullis_session is set: ${login.setCookies.map((c) => c.line)}`)
  assert.equal(session.attributes.get('secure'), true, 'Secure')
  assert.equal(session.attributes.get('httponly'), true, 'HttpOnly')
  assert.equal(String(session.attributes.get('samesite')).toLowerCase(), 'lax', 'SameSite=Lax')
  assert.equal(session.attributes.get('path'), '/', 'Path=/')
  assert.ok(!session.attributes.has('domain'), 'no Domain (a __Host- cookie has none)')
  assert.equal(login.cookie('portcullis_session'), undefined, 'no unprefixed session cookie')
})
