// Where the app looks for Portcullis and the bookstore, and what it asks
// for. The page's settings form overrides the first three (kept in this
// browser's localStorage: none of them is a secret).

export const defaults = {
  // Portcullis's --issuer (its default is http://localhost:8080).
  issuer: 'http://localhost:8080',
  // The id `portcullis client add` printed for this app (see README.md).
  clientId: '',
  // examples/bookstore (its default BOOKSTORE_LISTEN is 127.0.0.1:3000).
  api: 'http://127.0.0.1:3000',
}

// OpenID Connect (the user's id, name and email), a refresh token, and the
// bookstore's download permission, which the token carries only once the
// user holds it (the `customer` role, granted by a purchase).
export const scope = 'openid profile email offline_access books:download'
