#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The JDK's com.sun.net.httpserver.HttpsServer (Debian openjdk-17) with a
# default SSLContext ("TLS") over a PKCS#12 keystore of our certificate:
# the JDK's default protocols (java.security jdk.tls.disabledAlgorithms)
# and its default idle timeout.
#   lab/servers/java.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init java "$@"
srv_need javac openjdk-17-jdk-headless
srv_meta version "OpenJDK $(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p') com.sun.net.httpserver.HttpsServer, JSSE"
srv_meta package "$(srv_pkg openjdk-17-jdk-headless)"
openssl pkcs12 -export -in "$SRV_CERT" -inkey "$SRV_KEY" -out "$SRV_DIR/ks.p12" -passout pass:changeit -name srv
cat >"$SRV_DIR/Srv.java" <<'JAVA'
import com.sun.net.httpserver.*;
import java.io.*;
import java.net.InetSocketAddress;
import java.security.KeyStore;
import javax.net.ssl.*;

public class Srv {
  public static void main(String[] a) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(a[0])) { ks.load(in, "changeit".toCharArray()); }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, "changeit".toCharArray());
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), null, null);
    HttpsServer s = HttpsServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(a[1])), 64);
    s.setHttpsConfigurator(new HttpsConfigurator(ctx));
    s.createContext("/", x -> {
      byte[] b = "ok\n".getBytes();
      x.sendResponseHeaders(200, b.length);
      try (OutputStream o = x.getResponseBody()) { o.write(b); }
    });
    s.start();
  }
}
JAVA
javac -d "$SRV_DIR" "$SRV_DIR/Srv.java" || srv_die "javac failed"
srv_bg java java -cp "$SRV_DIR" Srv "$SRV_DIR/ks.p12" "$SRV_PORT"
srv_wait_port "$SRV_PORT" 30
srv_serve
