import Foundation
import LabCore

/// Configuration for production proxies run as sidecars in the same topology as the Swift one, so the Swift sidecar
/// is always measured against a real proxy: HTTP/1.1 keep-alive to the upstream, mTLS between the two
/// sidecars when the scenario asks for it, one worker per configured thread, logs off unless asked.
public struct ReferenceSidecarSettings: Sendable {
    public typealias Role = SidecarRole

    public var role: Role
    /// The address the proxy listens on: loopback, or every address of its pod (an inbound sidecar in a pod is
    /// reached on the pod's address, where interception redirects the app's traffic).
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int
    public var upstream: HostPort
    /// TLS material; set on the side that terminates (inbound listener) or originates (outbound upstream) mTLS.
    public var tls: TLSFiles?
    public var threads: Int
    public var accessLogPath: String?
    /// A second listener with the proxy's own status page, when the scenario turns metrics on.
    public var metricsPort: Int?
    /// Folder for the proxy's pid, error log and temporary files.
    public var workDirectory: String

    public init(role: Role, listenPort: Int, upstream: HostPort, tls: TLSFiles?, threads: Int, accessLogPath: String?,
                metricsPort: Int?, workDirectory: String) {
        self.role = role
        self.listenPort = listenPort
        self.upstream = upstream
        self.tls = tls
        self.threads = threads
        self.accessLogPath = accessLogPath
        self.metricsPort = metricsPort
        self.workDirectory = workDirectory
    }
}

/// PEM files for one side of the mTLS link.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String
    public var privateKey: String
    public var caCertificate: String
    /// Certificate and key in one file, as haproxy's `crt` wants them.
    public var bundle: String

    public init(certificate: String, privateKey: String, caCertificate: String, bundle: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.caCertificate = caCertificate
        self.bundle = bundle
    }
}

public enum NginxSidecar {
    /// A single-process nginx (no master, no daemon) so the process the lab starts is the one that works, and its
    /// cgroup holds all of its CPU and memory.
    public static func configuration(_ s: ReferenceSidecarSettings) -> String {
        let w = s.workDirectory
        var listen = "listen \(s.listenHost):\(s.listenPort)"
        var serverTLS = ""
        var upstreamScheme = "http"
        var upstreamTLS = ""
        if let tls = s.tls {
            switch s.role {
            case .inbound:
                listen += " ssl"
                serverTLS = """
                        ssl_certificate \(tls.certificate);
                        ssl_certificate_key \(tls.privateKey);
                        ssl_client_certificate \(tls.caCertificate);
                        ssl_verify_client on;
                        ssl_protocols TLSv1.2 TLSv1.3;
                        ssl_session_cache shared:SSL:1m;
                """
            case .outbound:
                upstreamScheme = "https"
                upstreamTLS = """
                            proxy_ssl_certificate \(tls.certificate);
                            proxy_ssl_certificate_key \(tls.privateKey);
                            proxy_ssl_trusted_certificate \(tls.caCertificate);
                            proxy_ssl_verify on;
                            proxy_ssl_name localhost;
                            proxy_ssl_server_name on;
                            proxy_ssl_session_reuse on;
                """
            }
        }
        let accessLog = s.accessLogPath.map { "access_log \($0) combined;" } ?? "access_log off;"
        let metrics = s.metricsPort.map {
            """
                server {
                    listen 127.0.0.1:\($0);
                    location / { stub_status; }
                }
            """
        } ?? ""
        return """
            # meshbench \(s.role.rawValue) sidecar (generated)
            worker_processes \(s.threads);
            master_process \(s.threads > 1 ? "on" : "off");
            daemon off;
            pid \(w)/nginx.pid;
            error_log \(w)/error.log warn;
            events { worker_connections 10240; }
            http {
                \(accessLog)
                client_body_temp_path \(w)/client_body;
                proxy_temp_path \(w)/proxy;
                fastcgi_temp_path \(w)/fastcgi;
                uwsgi_temp_path \(w)/uwsgi;
                scgi_temp_path \(w)/scgi;
                keepalive_requests 1000000;
                keepalive_timeout 60s;
                upstream backend {
                    server \(s.upstream);
                    keepalive 256;
                    keepalive_requests 1000000;
                }
                server {
                    \(listen);
            \(serverTLS)
                    location / {
                        proxy_pass \(upstreamScheme)://backend;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_buffering off;
            \(upstreamTLS)
                    }
                }
            \(metrics)
            }

            """
    }
}

public enum HAProxySidecar {
    /// haproxy in the foreground (`-db`), one process with `threads` threads, HTTP mode with connection reuse.
    public static func configuration(_ s: ReferenceSidecarSettings) -> String {
        var bind = "bind \(s.listenHost):\(s.listenPort)"
        var server = "server app \(s.upstream)"
        if let tls = s.tls {
            switch s.role {
            case .inbound:
                bind += " ssl crt \(tls.bundle) ca-file \(tls.caCertificate) verify required"
            case .outbound:
                server += " ssl crt \(tls.bundle) ca-file \(tls.caCertificate) verify required sni str(localhost)"
                    + " verifyhost localhost"
            }
        }
        let log = s.accessLogPath.map { _ in "    log stdout format raw local0\n" } ?? ""
        let httplog = s.accessLogPath != nil ? "    option httplog\n    log global\n" : ""
        let stats = s.metricsPort.map {
            """
            frontend stats
                bind 127.0.0.1:\($0)
                http-request use-service prometheus-exporter if { path /metrics }
                stats enable
                stats uri /stats

            """
        } ?? ""
        return """
            # meshbench \(s.role.rawValue) sidecar (generated)
            global
                nbthread \(s.threads)
                maxconn 4000
                pidfile \(s.workDirectory)/haproxy.pid
            \(log)
            defaults
                mode http
                timeout connect 1s
                timeout client 60s
                timeout server 15s
                timeout http-request 10s
                timeout http-keep-alive 60s
                http-reuse always
                option http-keep-alive
            \(httplog)
            frontend sidecar
                \(bind)
                default_backend app

            backend app
                \(server)

            \(stats)
            """
    }
}
