// Seed 000 (JDK-6618387): HttpsURLConnection keeps idle keep-alive
// connections in a cache; the bug was that disconnect() could not find the
// cached connection and the process ended with a TCP reset instead of
// close_notify.  This program shows what JDK 17 does today, and with mode
// "old-bug" does what the old JDK did: drop the cached connection's TCP
// socket under the TLS layer with SO_LINGER {1,0}.
//
// usage: java KeepAliveClient.java MODE URL [PROTOCOL]
//   disconnect   GET, read the body, close the stream (the connection goes
//                back to the keep-alive cache), disconnect(), exit at once
//   idle         GET, read, close the stream, then stay alive 7 s: the
//                cache's 5 s idle timer closes the connection itself
//   httpclient   java.net.http.HttpClient with jdk.httpclient.keepalive.timeout
//                set by the caller: the pool closes the idle connection
//   old-bug      the old behaviour, reproduced: the cached connection's
//                socket is reset under TLS (no close_notify)
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class KeepAliveClient {
  static SSLContext trustAll() throws Exception {
    TrustManager[] tm = {new X509TrustManager() {
      public void checkClientTrusted(X509Certificate[] c, String a) {}
      public void checkServerTrusted(X509Certificate[] c, String a) {}
      public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }};
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tm, null);
    return ctx;
  }

  public static void main(String[] a) throws Exception {
    String mode = a[0], url = a[1], proto = a.length > 2 ? a[2] : "TLSv1.3";
    SSLContext ctx = trustAll();
    if (mode.equals("httpclient")) {
      SSLParameters p = new SSLParameters();
      p.setProtocols(new String[] {proto});
      HttpClient c = HttpClient.newBuilder().sslContext(ctx).sslParameters(p)
          .version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(url)).build(),
          HttpResponse.BodyHandlers.ofString());
      System.out.println("java: HTTP " + r.statusCode() + ", connection pooled; waiting");
      Thread.sleep(4000);
      System.out.println("java: exit");
      return;
    }
    HttpsURLConnection.setDefaultHostnameVerifier((h, s) -> true);
    javax.net.ssl.SSLSocketFactory base = ctx.getSocketFactory();
    final Socket[] raw = new Socket[1];
    // HttpsClient connects a plain socket itself (createSocket() below is
    // "not implemented") and layers TLS over it: remember that plain socket
    // so that old-bug can reset it, as the old keep-alive cache effectively
    // did to connections it had lost track of.
    javax.net.ssl.SSLSocketFactory f = new javax.net.ssl.SSLSocketFactory() {
      public String[] getDefaultCipherSuites() { return base.getDefaultCipherSuites(); }
      public String[] getSupportedCipherSuites() { return base.getSupportedCipherSuites(); }
      public Socket createSocket() throws java.io.IOException {
        // HttpsClient falls back to a plain Socket on exactly this
        java.net.SocketException se = new java.net.SocketException("Unconnected sockets not implemented");
        se.initCause(new UnsupportedOperationException());
        throw se;
      }
      public Socket createSocket(Socket s, String h, int p, boolean ac) throws java.io.IOException {
        raw[0] = s;
        SSLSocket t = (SSLSocket) base.createSocket(s, h, p, ac);
        t.setEnabledProtocols(new String[] {proto});
        return t;
      }
      public Socket createSocket(String h, int p) throws java.io.IOException {
        return createSocket(new Socket(h, p), h, p, true);
      }
      public Socket createSocket(String h, int p, java.net.InetAddress la, int lp) throws java.io.IOException {
        return createSocket(h, p);
      }
      public Socket createSocket(java.net.InetAddress h, int p) throws java.io.IOException {
        return createSocket(new Socket(h, p), h.getHostAddress(), p, true);
      }
      public Socket createSocket(java.net.InetAddress h, int p, java.net.InetAddress la, int lp) throws java.io.IOException {
        return createSocket(h, p);
      }
    };
    HttpsURLConnection c = (HttpsURLConnection) new URL(url).openConnection();
    c.setSSLSocketFactory(f);
    int code = c.getResponseCode();
    InputStream in = c.getInputStream();
    byte[] buf = new byte[4096];
    int total = 0;
    for (int n; (n = in.read(buf)) > 0;) total += n;
    in.close(); // back to the keep-alive cache
    System.out.println("java: HTTP " + code + ", " + total + " bytes, stream closed");
    switch (mode) {
      case "disconnect":
        c.disconnect();
        System.out.println("java: disconnect() returned; exit");
        System.exit(0);
        break;
      case "idle":
        Thread.sleep(11000); // the cache checks every 5 s for connections idle 5 s
        System.out.println("java: exit after 11 s idle");
        break;
      case "old-bug":
        raw[0].setSoLinger(true, 0);
        raw[0].close();
        System.out.println("java: plain socket under TLS closed with SO_LINGER {1,0}");
        break;
      default:
        System.out.println("java: unknown mode " + mode);
    }
  }
}
