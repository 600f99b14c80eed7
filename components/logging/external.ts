/**
 * An existing Elasticsearch (ECK, Elastic Cloud, a platform team's cluster) that the stack's Logstash writes the
 * app's logs to instead of the stack's own (`pavemaster:logging.elasticsearch.external`, issue 17). Described the
 * way Logstash's elasticsearch output and ECK describe a remote cluster: its HTTPS `hosts`, the CA its certificate
 * is verified with, and credentials (an API key, or a user and password) taken from an existing Kubernetes Secret by
 * reference, so that no credential of that cluster passes through the program or its state.
 *
 * Without the Pulumi SDK: the stack reader (stacks/logging.ts) resolves and checks these options too.
 */
import { ArgChecks } from '../shared/args';
import { checkDnsSubdomain } from '../shared/checks';
import type { NetworkPeer } from '../shared/network';
import { checkNetworkPeer } from '../shared/peers';

/**
 * The CA the endpoint's certificate chain must lead to: a key of an existing ConfigMap or Secret in the logging
 * namespace (PEM), or, only when said explicitly, the system trust store of the Logstash image (a cluster with a
 * publicly trusted certificate, such as Elastic Cloud's). Exactly one of `configMap`, `secret`, `systemTrustStore`.
 */
export interface ExternalCaOptions {
  /** An existing ConfigMap (logging namespace) holding the CA. @default none */
  readonly configMap?: string;
  /** An existing Secret (logging namespace) holding the CA, e.g. ECK's `<cluster>-es-http-certs-public`. @default none */
  readonly secret?: string;
  /** The CA's key in that ConfigMap or Secret. @default "ca.crt" */
  readonly key?: string;
  /** Trust the certificates the Logstash image trusts (its JVM's CA list) instead of a given CA. @default false */
  readonly systemTrustStore?: boolean;
}

/** How Logstash authenticates: with an API key, or with a user and password. */
export type ExternalAuthType = 'apiKey' | 'basic';

/** An existing Secret (logging namespace) with Logstash's credentials for the external cluster. */
export interface ExternalCredentialsOptions {
  /** The Secret's name. Required. */
  readonly secret?: string;
  /**
   * "apiKey": one key holding `<id>:<api_key>` (the `id` and `api_key` of Elasticsearch's create-API-key answer,
   * joined by a colon: Logstash's `api_key` format); "basic": a user name and a password key (a
   * `kubernetes.io/basic-auth` Secret's). Required.
   */
  readonly type?: ExternalAuthType;
  /** The key holding the API key (type "apiKey"). @default "api_key" */
  readonly apiKeyKey?: string;
  /** The key holding the user name (type "basic"). @default "username" */
  readonly usernameKey?: string;
  /** The key holding the password (type "basic"). @default "password" */
  readonly passwordKey?: string;
}

/** A destination of Logstash's egress NetworkPolicy: the cluster's pods or addresses, on some TCP ports. */
export interface ExternalEgressPeer extends NetworkPeer {
  /** The destination ports (the pods' or addresses' own, not a Service's). Required, at least one. */
  readonly ports: readonly number[];
  /** Only TCP: Elasticsearch speaks HTTP. @default "TCP" */
  readonly protocol?: 'TCP' | 'UDP';
}

/** What a stack decides about an external Elasticsearch (`pavemaster:logging.elasticsearch.external`). */
export interface ExternalElasticsearchOptions {
  /** The cluster's endpoints, `https://host[:port][/path]` (Logstash's `hosts`; its default port is 9200). Required, at least one. */
  readonly hosts?: readonly string[];
  /** The CA Logstash verifies the endpoints with. Required: a CA, or `systemTrustStore: true`. */
  readonly ca?: ExternalCaOptions;
  /** Logstash's credentials, from an existing Secret. Required. */
  readonly credentials?: ExternalCredentialsOptions;
  /** Where the endpoints are, for Logstash's egress NetworkPolicy (nothing else is opened). Required, at least one. */
  readonly egress?: readonly ExternalEgressPeer[];
  /**
   * The data stream written: `logs-<dataset>-<namespace>`, each part lowercase letters, digits and "_" (the dataset
   * also "."), no "-", at most 100 characters.
   * @default dataset "pavemaster", namespace the environment
   */
  readonly dataStream?: { readonly dataset?: string; readonly namespace?: string };
}

/** The options with every default applied (required ones left empty, for the check to name). */
export interface ResolvedExternalElasticsearch {
  hosts: string[];
  ca: { configMap?: string; secret?: string; key: string; systemTrustStore: boolean };
  credentials: {
    secret: string;
    type?: ExternalAuthType;
    apiKeyKey: string;
    usernameKey: string;
    passwordKey: string;
  };
  egress: ExternalEgressPeer[];
  dataStream: { dataset: string; namespace?: string };
}

/** The default data stream dataset, the one the stack's own index template matches. */
export const DEFAULT_DATASET = 'pavemaster';

/** Applies the defaults. */
export function resolveExternalElasticsearch(o: ExternalElasticsearchOptions): ResolvedExternalElasticsearch {
  return {
    hosts: [...(o.hosts ?? [])],
    ca: {
      ...(o.ca?.configMap !== undefined ? { configMap: o.ca.configMap } : {}),
      ...(o.ca?.secret !== undefined ? { secret: o.ca.secret } : {}),
      key: o.ca?.key ?? 'ca.crt',
      systemTrustStore: o.ca?.systemTrustStore ?? false,
    },
    credentials: {
      secret: o.credentials?.secret ?? '',
      ...(o.credentials?.type !== undefined ? { type: o.credentials.type } : {}),
      apiKeyKey: o.credentials?.apiKeyKey ?? 'api_key',
      usernameKey: o.credentials?.usernameKey ?? 'username',
      passwordKey: o.credentials?.passwordKey ?? 'password',
    },
    egress: [...(o.egress ?? [])],
    dataStream: {
      dataset: o.dataStream?.dataset ?? DEFAULT_DATASET,
      ...(o.dataStream?.namespace !== undefined ? { namespace: o.dataStream.namespace } : {}),
    },
  };
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const checkKey = (k: string) =>
  SECRET_KEY.test(k) && k.length <= 253
    ? undefined
    : 'a ConfigMap or Secret key: letters, digits, "-", "_" and "."';

/** A data stream dataset as Elasticsearch names them (`nginx.access`): no "-", which separates the parts. */
export function checkDataset(text: string): string | undefined {
  return /^[a-z0-9][a-z0-9_.]{0,99}$/.test(text)
    ? undefined
    : 'a data stream dataset: at most 100 lowercase letters, digits, "_" and ".", starting with a letter or digit (no "-": it separates the parts of logs-<dataset>-<namespace>)';
}

/** A data stream namespace (the environment by default). */
export function checkDataStreamNamespace(text: string): string | undefined {
  return /^[a-z0-9][a-z0-9_]{0,99}$/.test(text)
    ? undefined
    : 'a data stream namespace: at most 100 lowercase letters, digits and "_", starting with a letter or digit (no "-")';
}

/**
 * One endpoint: https (every hop of the logging stack is TLS), a host and optionally a port and path, nothing that
 * would put a credential into the ConfigMap (user info), nothing Logstash's config language would have to escape.
 */
export function checkExternalHost(text: string): string | undefined {
  const allowed =
    'an https URL, https://<host>[:<port>][/<path>] (e.g. "https://logs.example.com:9243"), without user, password, query or fragment';
  if (!/^https?:\/\//i.test(text)) {
    return allowed;
  }
  if (!/^https:\/\//.test(text)) {
    return `${allowed}: the logging stack is TLS on every hop, a plaintext endpoint would carry its credentials and the app's logs`;
  }
  if (!/^https:\/\/[-a-z0-9.[\]:]+(:\d{1,5})?(\/[-a-zA-Z0-9._~/%]*)?$/.test(text)) {
    return allowed;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return allowed;
  }
  const port = url.port === '' ? 9200 : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
  if (
    url.username !== '' ||
    url.password !== '' ||
    port < 1 ||
    port > 65535 ||
    (!ipv4 && !host.includes(':') && checkDnsSubdomain(host) !== undefined)
  ) {
    return allowed;
  }
  return undefined;
}

/** The problems of an external Elasticsearch at `path` ("elasticsearch.external"), every one at once. */
export function checkExternalElasticsearch(
  c: ArgChecks,
  path: string,
  e: ResolvedExternalElasticsearch,
): void {
  if (e.hosts.length === 0) {
    c.fail(
      `${path}.hosts`,
      e.hosts,
      'at least one https endpoint of the cluster, e.g. ["https://logs.example.com:9243"]',
    );
  }
  e.hosts.forEach((h, i) => {
    const problem = checkExternalHost(h);
    if (problem !== undefined) {
      // A password written into the URL by mistake is not repeated in the error.
      c.fail(`${path}.hosts[${i}]`, h.replace(/^([a-z]+:\/\/[^/@:]*):[^/@]*@/i, '$1:[secret]@'), problem);
    }
  });

  const sources = [
    e.ca.configMap !== undefined ? 'configMap' : undefined,
    e.ca.secret !== undefined ? 'secret' : undefined,
    e.ca.systemTrustStore ? 'systemTrustStore' : undefined,
  ].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    c.fail(
      `${path}.ca`,
      e.ca,
      'exactly one of "configMap" or "secret" (with "key", default "ca.crt": the CA that signed the endpoint\'s certificate, in the logging namespace), or "systemTrustStore: true" to trust the Logstash image\'s public CAs instead (an endpoint with a publicly trusted certificate): the certificate is always verified',
    );
  }
  c.check(`${path}.ca.configMap`, e.ca.configMap, checkDnsSubdomain);
  c.check(`${path}.ca.secret`, e.ca.secret, checkDnsSubdomain);
  c.check(`${path}.ca.key`, e.ca.key, checkKey);

  const cr = e.credentials;
  if (cr.secret === '') {
    c.fail(
      `${path}.credentials.secret`,
      undefined,
      "the name of an existing Secret in the logging namespace with Logstash's credentials for the cluster (an API key, or a user and password): the stack never writes to a cluster anonymously",
    );
  } else {
    c.check(`${path}.credentials.secret`, cr.secret, checkDnsSubdomain);
  }
  if (cr.type !== 'apiKey' && cr.type !== 'basic') {
    c.fail(
      `${path}.credentials.type`,
      cr.type,
      'one of "apiKey" (the Secret\'s key apiKeyKey holds "<id>:<api_key>") or "basic" (its keys usernameKey and passwordKey)',
    );
  }
  c.check(`${path}.credentials.apiKeyKey`, cr.apiKeyKey, checkKey);
  c.check(`${path}.credentials.usernameKey`, cr.usernameKey, checkKey);
  c.check(`${path}.credentials.passwordKey`, cr.passwordKey, checkKey);
  if (cr.type === 'basic' && cr.usernameKey === cr.passwordKey) {
    c.fail(`${path}.credentials.passwordKey`, cr.passwordKey, 'a key other than usernameKey');
  }

  if (e.egress.length === 0) {
    c.fail(
      `${path}.egress`,
      e.egress,
      'at least one destination of the endpoints for Logstash\'s NetworkPolicy, as in pavemaster:egress: {cidr, ports} for an address range (e.g. [{cidr: "203.0.113.0/24", ports: [9243]}]) or {namespace, podLabels, ports} for an in-cluster cluster such as ECK\'s (e.g. [{namespace: elastic-system, podLabels: {elasticsearch.k8s.elastic.co/cluster-name: logs}, ports: [9200]}])',
    );
  }
  e.egress.forEach((peer, i) => {
    const at = `${path}.egress[${i}]`;
    checkNetworkPeer(c, at, peer, { podLabelsAlone: false });
    if (!Array.isArray(peer.ports) || peer.ports.length === 0) {
      c.fail(`${at}.ports`, peer.ports, "at least one port (the pods' or addresses' own port, e.g. 9200)");
    } else {
      peer.ports.forEach((port, j) =>
        c.check(`${at}.ports[${j}]`, port, (v) =>
          Number.isInteger(v) && v >= 1 && v <= 65535 ? undefined : 'a port from 1 to 65535',
        ),
      );
    }
    if (peer.protocol !== undefined && peer.protocol !== 'TCP') {
      c.fail(`${at}.protocol`, peer.protocol, '"TCP" (Elasticsearch speaks HTTP over TCP)');
    }
  });

  c.check(`${path}.dataStream.dataset`, e.dataStream.dataset, checkDataset);
  c.check(`${path}.dataStream.namespace`, e.dataStream.namespace, checkDataStreamNamespace);
}
