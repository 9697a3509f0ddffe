// A second, independent OpenID provider for jit's tests: panva's
// oidc-provider (OpenID-certified), with the device authorization grant and
// its development login form, configured to issue tokens in the shapes real
// IdPs use (Okta, Entra, Keycloak). Started by internal/testenv.OIDCProvider:
//
//   node server.js CONFIG.json
//
// CONFIG.json:
//   {"users": [{"username": "alice", "password": "...", "claims": {"sub": "...", "email": ..., "groups": ...}}],
//    "clients": [{"client_id": "jit-cli", "extra_audiences": ["api://other"], "redirect_uris": [...]}],
//    "id_token_ttl": 3600,
//    "workloads": {"octo-app-main": {"sub": "repo:octo/app:ref:refs/heads/main", "repository": "octo/app", ...}}}
//
// It listens on 127.0.0.1 on a port the kernel picks and prints one JSON line
// {"issuer": "http://127.0.0.1:PORT"} on stdout once it accepts connections.
// Claims are returned exactly as given (no email_verified unless the user has
// one; groups as given, array or string), so a test controls the shape.
// Users sign in at the development login form with username and password
// (password defaults to "<username>-password"). Never expose this outside
// loopback.
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = new Map((cfg.users || []).map((u) => [u.username, { password: `${u.username}-password`, ...u }]));
const bySub = new Map([...users.values()].map((u) => [u.claims.sub, u]));
const clientAudiences = new Map((cfg.clients || []).map((c) => [c.client_id, c.extra_audiences || []]));

// Workload tokens (GitHub Actions-, GitLab- and Kubernetes-shaped): the
// provider signs with this key, published in its own JWKS, and
// GET /jit-test/workload-token?profile=NAME&audience=AUD returns
// {"value": JWT} — the shape of GitHub's ACTIONS_ID_TOKEN_REQUEST_URL. The
// profile's claims come from the config ("workloads": {NAME: {claims}}), as
// a CI system sets them: the caller picks only the audience and which
// configured job it is, never the claims.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'jit-test-workload', alg: 'RS256', use: 'sig' };
const workloads = cfg.workloads || {};

function b64url(v) {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

function workloadToken(issuer, profile, audience, ttl) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { jti: randomUUID(), ...profile, iss: issuer, aud: audience, iat: now, nbf: now, exp: now + ttl };
  const head = b64url({ alg: 'RS256', typ: 'JWT', kid: signingJwk.kid });
  const body = b64url(claims);
  const sig = sign('sha256', Buffer.from(`${head}.${body}`), createPrivateKey({ key: signingJwk, format: 'jwk' }));
  return `${head}.${body}.${sig.toString('base64url')}`;
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: (cfg.clients || []).map((c) => ({
      client_id: c.client_id,
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: c.redirect_uris || ['http://127.0.0.1/approve/callback'],
    })),
    jwks: { keys: [signingJwk] },
    features: {
      deviceFlow: { enabled: true },
      devInteractions: { enabled: true },
      revocation: { enabled: true },
    },
    // The login form's "login" is the username; the account's id is the
    // user's sub, so a relying party keying on the username is caught.
    async findAccount(_ctx, id) {
      const u = bySub.get(id);
      if (!u) return undefined;
      return {
        accountId: u.claims.sub,
        async claims() { return { ...u.claims }; },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'upn'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    // Claims go into the ID token even when an access token is issued too
    // (Okta, Entra and Keycloak do so): jit reads them there.
    conformIdTokenClaims: false,
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    pkce: { required: () => false },
    ttl: {
      IdToken: cfg.id_token_ttl || 3600,
      AccessToken: 3600,
      DeviceCode: 300,
      RefreshToken: 24 * 3600,
      Grant: 24 * 3600,
      Interaction: 600,
      Session: 3600,
    },
    // Skip the consent screen once the user signed in: a real IdP's admin
    // consents for the organisation.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile groups offline_access');
      grant.addOIDCClaims(['email', 'email_verified', 'groups', 'name', 'preferred_username', 'upn']);
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;

  // Several audiences with azp (Entra and Okta tokens minted for one app
  // that also name another): oidc-provider always sets aud to the client id,
  // so for a client with extra_audiences this ID token (only) sees a client
  // whose clientId is [client_id, ...extra]: aud becomes that list and azp
  // the client id. Test-only shim; nothing shared is mutated.
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function issueWithAudiences(opts) {
    const { client } = this;
    const extra = clientAudiences.get(client?.clientId) || [];
    if (opts?.use !== 'idtoken' || extra.length === 0) return issue.call(this, opts);
    const id = client.clientId;
    this.set('azp', id);
    this.client = new Proxy(client, {
      get(target, prop) {
        if (prop === 'clientId') return [id, ...extra];
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    try {
      return await issue.call(this, opts);
    } finally {
      this.client = client;
    }
  };

  // The development login form's "login" is the username: check the
  // password and hand oidc-provider the account id (the user's sub), the
  // way a real IdP's login page resolves a username to a subject.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (form.get('prompt') === 'login') {
        const u = users.get(form.get('login'));
        if (!u || form.get('password') !== u.password) {
          ctx.status = 401;
          ctx.type = 'text';
          ctx.body = 'wrong username or password';
          return;
        }
        form.set('login', u.claims.sub);
      }
      ctx.req.body = form.toString();
    }
    await next();
  });

  // One line per refresh on stderr: the harness counts them.
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') console.error('jit-testidp: refresh_token grant');
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
  const oidc = provider.callback();
  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname !== '/jit-test/workload-token') return oidc(req, res);
    const profile = workloads[url.searchParams.get('profile')];
    const audience = url.searchParams.get('audience');
    if (req.method !== 'GET' || !profile || !audience) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('GET ?profile=<a configured workload>&audience=<aud>');
      return;
    }
    const ttl = Number(url.searchParams.get('ttl')) || cfg.workload_token_ttl || 300;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: workloadToken(issuer, profile, audience, ttl) }));
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
// The harness holds stdin open; when the test process dies, exit too.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
