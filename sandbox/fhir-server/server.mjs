// The spine-auth sandbox FHIR R4 server: Medplum's FHIR router and in-memory repository behind node:http.
//
//   node server.mjs --port P [--host 127.0.0.1] [--auth-base URL] [--introspection-client ID:SECRET]
//                   [--require-auth] [--default-count N] [--max-count N] [--exit-with-parent]
//
// --exit-with-parent: stop when standard input reaches its end, i.e. when the process that started the server and
// holds the other end of the pipe is gone, however it died (the Python launcher uses it, so no server outlives it).
// The introspection client may also come from the environment (SANDBOX_INTROSPECTION_CLIENT=ID:SECRET), which keeps
// the secret out of the process list.
//
// Prints {"event": "listening", "port": P, "base": "http://127.0.0.1:P/fhir"} on stdout when ready, then one JSON
// line per request (method, path without query, status, milliseconds). Bodies and tokens are never logged.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { FhirRouter } from '@medplum/fhir-router';
import { AdminEndpoint } from './lib/admin-endpoint.mjs';
import { CapabilityBuilder } from './lib/capability.mjs';
import { loadR4Definitions } from './lib/definitions.mjs';
import { FhirEndpoint } from './lib/fhir-endpoint.mjs';
import { operationOutcome, sendJson } from './lib/http-util.mjs';
import { TokenIntrospector } from './lib/introspection.mjs';
import { ReferenceIndex } from './lib/reference-index.mjs';
import { SandboxRepository } from './lib/repository.mjs';
import { Terminology } from './lib/terminology.mjs';
import { ResourceValidator } from './lib/validation.mjs';

const SHUTDOWN_GRACE_MILLISECONDS = 2000;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'auth-base': { type: 'string' },
      'introspection-client': { type: 'string' },
      'require-auth': { type: 'boolean', default: false },
      'default-count': { type: 'string', default: '20' },
      'max-count': { type: 'string', default: '500' },
      'exit-with-parent': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = integer(values.port, '--port', 0, 65535);
  const maxCount = integer(values['max-count'], '--max-count', 1, 100_000);
  const defaultCount = integer(values['default-count'], '--default-count', 1, maxCount);
  const authBase = values['auth-base']?.replace(/\/+$/, '');
  let introspectionClient;
  const clientText = values['introspection-client'] ?? process.env.SANDBOX_INTROSPECTION_CLIENT;
  if (clientText) {
    const separator = clientText.indexOf(':');
    if (separator <= 0) {
      throw new Error('--introspection-client (or SANDBOX_INTROSPECTION_CLIENT) must be ID:SECRET');
    }
    introspectionClient = { id: clientText.slice(0, separator), secret: clientText.slice(separator + 1) };
  }
  if (values['require-auth'] && !authBase) {
    throw new Error('--require-auth needs --auth-base');
  }
  return {
    port,
    host: values.host,
    authBase,
    introspectionClient,
    requireAuth: values['require-auth'],
    defaultCount,
    maxCount,
    exitWithParent: values['exit-with-parent'],
  };
}

function integer(text, name, min, max) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function buildServer(options) {
  const { resourceTypes, patientCompartment } = loadR4Definitions();
  const types = new Set(resourceTypes);
  const settings = {
    requireAuth: options.requireAuth,
    delayMs: 0,
    defaultCount: options.defaultCount,
    maxCount: options.maxCount,
  };
  const store = new SandboxRepository({
    resourceTypes: types,
    validator: new ResourceValidator(types, new Terminology()),
    index: new ReferenceIndex(patientCompartment),
    settings,
  });
  const router = new FhirRouter();
  // GraphQL and other operations are not part of this sandbox.
  const operationRoutes = router.router.routes.filter((route) => route.data?.interaction === 'operation');
  operationRoutes.forEach((route) => router.router.routes.splice(router.router.routes.indexOf(route), 1));
  const stats = { requests: 0, withAuthorization: 0 };
  const introspector = options.authBase ? new TokenIntrospector(options.authBase, options.introspectionClient) : undefined;
  const packageJson = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
  const fhir = new FhirEndpoint({
    store,
    router,
    settings,
    stats,
    introspector,
    capability: new CapabilityBuilder({
      resourceTypes,
      software: { name: 'spine-auth sandbox FHIR server (Medplum fhir-router)', version: packageJson.version },
      startedAt: new Date().toISOString(),
    }),
    authBase: options.authBase,
    defaultBaseUrl: '',
  });
  const admin = new AdminEndpoint({ store, settings, stats, introspector, serialized: (work) => fhir.serialized(work) });

  const server = http.createServer(async (req, res) => {
    const started = performance.now();
    let status = 500;
    try {
      const url = new URL(`http://localhost${req.url}`);
      if (url.pathname === '/fhir' || url.pathname.startsWith('/fhir/')) {
        status = await fhir.handle(req, res, url);
      } else if (url.pathname.startsWith('/admin/')) {
        status = await admin.handle(req, res, url);
      } else {
        status = 404;
        sendJson(res, 404, operationOutcome('not-found', 'Not found: the FHIR base is /fhir'));
      }
    } catch (err) {
      status = res.headersSent ? status : 400;
      if (!res.headersSent) {
        sendJson(res, 400, operationOutcome('invalid', 'Malformed request'));
      }
      process.stderr.write(`${JSON.stringify({ event: 'error', error: err?.name ?? 'Error' })}\n`);
    }
    const path = (req.url ?? '').split('?')[0];
    const ms = Math.round((performance.now() - started) * 10) / 10;
    process.stdout.write(`${JSON.stringify({ event: 'request', method: req.method, path, status, ms })}\n`);
  });
  return { server, fhir };
}

function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`server.mjs: ${err.message}\n`);
    process.exit(2);
  }
  const { server, fhir } = buildServer(options);
  server.on('error', (err) => {
    process.stderr.write(`server.mjs: cannot listen on ${options.host}:${options.port} (${err.code})\n`);
    process.exit(1);
  });
  server.listen(options.port, options.host, () => {
    const { port } = server.address();
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const base = `http://${host}:${port}/fhir`;
    fhir.defaultBaseUrl = base;
    const startupMs = Math.round(performance.now());
    process.stdout.write(`${JSON.stringify({ event: 'listening', port, base, startupMs })}\n`);
  });
  const shutdown = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MILLISECONDS).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (options.exitWithParent) {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`${JSON.stringify({ event: 'error', error: reason?.name ?? 'UnhandledRejection' })}\n`);
  });
}

main();
