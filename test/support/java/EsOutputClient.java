import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The TLS and authentication path of Logstash's elasticsearch output, on the JVM's own TLS stack (JSSE, as Logstash
 * runs on): ssl_certificate_authorities become the only trust anchors (without them, the JVM's default trust store),
 * ssl_verification_mode "full" is JSSE's chain check plus the HTTPS host name check, api_key is sent as
 * "ApiKey base64(id:api_key)" and user/password as basic auth. One bulk create into the data stream, as the output
 * sends it. Usage: EsOutputClient <url> <ca file or -> <data stream>; credentials from ES_API_KEY or ES_USER and
 * ES_PASSWORD, as the pod's environment holds them.
 */
public class EsOutputClient {
  public static void main(String[] args) throws Exception {
    URL url = new URL(args[0] + "/_bulk");
    HttpsURLConnection c = (HttpsURLConnection) url.openConnection();
    if (!args[1].equals("-")) {
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      int i = 0;
      try (InputStream in = new ByteArrayInputStream(Files.readAllBytes(Path.of(args[1])))) {
        for (Certificate cert : cf.generateCertificates(in)) {
          trust.setCertificateEntry("ca-" + i++, cert);
        }
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      c.setSSLSocketFactory(ctx.getSocketFactory());
    }
    String apiKey = System.getenv("ES_API_KEY");
    String auth = apiKey != null
        ? "ApiKey " + Base64.getEncoder().encodeToString(apiKey.getBytes(StandardCharsets.UTF_8))
        : "Basic " + Base64.getEncoder().encodeToString(
            (System.getenv("ES_USER") + ":" + System.getenv("ES_PASSWORD")).getBytes(StandardCharsets.UTF_8));
    c.setRequestMethod("POST");
    c.setDoOutput(true);
    c.setRequestProperty("Authorization", auth);
    c.setRequestProperty("Content-Type", "application/x-ndjson");
    byte[] body = ("{\"create\":{\"_index\":\"" + args[2] + "\"}}\n{\"message\":\"hello\"}\n")
        .getBytes(StandardCharsets.UTF_8);
    try (OutputStream out = c.getOutputStream()) {
      out.write(body);
    }
    System.out.println(c.getResponseCode());
  }
}
