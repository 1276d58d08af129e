// oidc-provider as the comparison point for our token service: one confidential client
// (client_secret_basic, client-credentials only) and JWT access tokens for one default resource,
// signed with RS256 or ES256. A 2-worker cluster on 127.0.0.1, so both servers use both cores.
//   node server.js <port> <RS256|ES256> <client_id> <client_secret>
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, alg, clientId, clientSecret] = process.argv.slice(2);
if (!port || !['RS256', 'ES256'].includes(alg) || !clientId || !clientSecret) {
  console.error('usage: node server.js <port> <RS256|ES256> <client_id> <client_secret>');
  process.exit(2);
}

const workers = 2;

if (cluster.isPrimary) {
  // One key for the whole cluster, made by the primary: every worker must sign with the same key.
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `bench-${alg.toLowerCase()}` };
  for (let i = 0; i < workers; i += 1) {
    cluster.fork({ BENCH_SIGNING_JWK: JSON.stringify(jwk) });
  }
  // A worker that dies means the measurement is wrong: stop the whole cluster instead of limping on.
  cluster.on('exit', (worker, code) => {
    console.error(`worker ${worker.process.pid} exited with ${code}`);
    process.exit(1);
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const issuer = `http://127.0.0.1:${port}`;
  const resource = `${issuer}/api`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [JSON.parse(process.env.BENCH_SIGNING_JWK)] },
    // The provider checks client metadata against its only key, so the default alg must match it.
    clientDefaults: { id_token_signed_response_alg: alg },
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          audience: resource,
          scope: 'api',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg } },
        }),
      },
    },
  });
  provider.listen(Number(port), '127.0.0.1');
}
