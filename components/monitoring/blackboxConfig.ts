/** The blackbox exporter's configuration: one HTTP module that expects a 2xx answer. */

export interface BlackboxConfig {
  modules: Record<
    string,
    {
      prober: 'http';
      timeout: string;
      http: {
        valid_status_codes: number[];
        method: 'GET';
        preferred_ip_protocol: 'ip4' | 'ip6';
        ip_protocol_fallback: boolean;
        follow_redirects: boolean;
      };
    }
  >;
}

/** Builds the configuration; `timeoutSeconds` bounds each probe. */
export function blackboxConfig(timeoutSeconds: number): BlackboxConfig {
  return {
    modules: {
      http_2xx: {
        prober: 'http',
        timeout: `${timeoutSeconds}s`,
        http: {
          valid_status_codes: [],
          method: 'GET',
          preferred_ip_protocol: 'ip4',
          ip_protocol_fallback: true,
          follow_redirects: true,
        },
      },
    },
  };
}
