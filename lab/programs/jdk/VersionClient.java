// Seed 002: a Java HTTPS client limited to some TLS versions, as the seed's
// Apache HttpClient was ("new String[] { \"TLSv1\" }"), against a server that
// accepts only others.  Uses the JDK's own java.net.http.HttpClient.
//
// usage: java VersionClient.java URL PROTOCOL[,PROTOCOL...]
// Prints one line "java: <outcome>" with the exception the application sees.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class VersionClient {
  public static void main(String[] args) throws Exception {
    TrustManager[] trustAll = {new X509TrustManager() {
      public void checkClientTrusted(X509Certificate[] c, String a) {}
      public void checkServerTrusted(X509Certificate[] c, String a) {}
      public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }};
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, trustAll, null);
    SSLParameters params = new SSLParameters();
    params.setProtocols(args[1].split(","));
    HttpClient client = HttpClient.newBuilder()
        .sslContext(ctx).sslParameters(params)
        .connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest req = HttpRequest.newBuilder(URI.create(args[0]))
        .timeout(Duration.ofSeconds(5)).build();
    try {
      HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
      System.out.println("java: HTTP " + r.statusCode() + " over " + args[1]);
    } catch (Exception e) {
      Throwable t = e;
      while (t.getCause() != null && t.getCause() != t) t = t.getCause();
      System.out.println("java: " + e.getClass().getName() + ": " + e.getMessage()
          + (t != e ? " (cause " + t.getClass().getName() + ": " + t.getMessage() + ")" : ""));
    }
  }
}
