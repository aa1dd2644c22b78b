import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The files of the emulator's TLS listener, in `dir`. */
export interface TlsFiles {
  /** The certificate authority clients are told to trust (`ca_certificates_file`, `NODE_EXTRA_CA_CERTS`). */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** What the HTTPS server needs, and where its CA is. */
export interface TlsMaterial extends TlsFiles {
  key: Buffer;
  cert: Buffer;
  /** True when this call generated the files (first use of `dir`). */
  generated: boolean;
}

/** Thrown when no certificate can be made; its message is meant for users as is. */
export class TlsSetupError extends Error {
  override name = "TlsSetupError";
}

export function tlsFiles(dir: string): TlsFiles {
  return { caFile: join(dir, "ca.pem"), certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") };
}

/**
 * The emulator's certificate, generated on first use: a local CA (kept so clients trust it once) and a
 * server certificate it signs for `localhost`, `127.0.0.1` and `::1`. Node cannot issue X.509
 * certificates itself, so the `openssl` binary makes them. Files already in `dir` are reused while the
 * server certificate is valid for at least another day.
 */
export async function ensureTlsMaterial(dir: string): Promise<TlsMaterial> {
  const files = tlsFiles(dir);
  const existing = await readExisting(files);
  if (existing) return { ...files, ...existing, generated: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const work = join(dir, `.gen-${process.pid}-${Date.now()}`);
  await mkdir(work, { mode: 0o700 });
  try {
    const w = tlsFiles(work);
    const caKey = join(work, "ca-key.pem");
    const csr = join(work, "server.csr");
    const ext = join(work, "server.ext");
    await openssl([
      "req",
      "-x509",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      caKey,
      "-out",
      w.caFile,
      "-days",
      "3650",
      "-subj",
      "/O=Batchline local cloud/CN=Batchline GCS emulator local CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      w.keyFile,
      "-out",
      csr,
      "-subj",
      "/O=Batchline local cloud/CN=localhost",
    ]);
    await writeFile(
      ext,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        // boto (gsutil's XML mode) matches the host only against DNS names, so 127.0.0.1 is one too.
        "subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1,IP:::1",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        "",
      ].join("\n"),
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      w.caFile,
      "-CAkey",
      caKey,
      "-CAcreateserial",
      "-out",
      w.certFile,
      "-days",
      "825",
      "-extfile",
      ext,
    ]);
    // The key of the CA is not kept: nothing else is ever signed with it.
    for (const name of ["caFile", "certFile", "keyFile"] as const) await rename(w[name], files[name]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const made = await readExisting(files);
  if (!made) throw new TlsSetupError(`could not read the certificate just generated in ${dir}`);
  return { ...files, ...made, generated: true };
}

async function readExisting(files: TlsFiles): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  try {
    const [key, cert] = await Promise.all([readFile(files.keyFile), readFile(files.certFile)]);
    await readFile(files.caFile);
    const validTo = new Date(new X509Certificate(cert).validTo).getTime();
    if (validTo - Date.now() < 24 * 60 * 60 * 1000) return undefined;
    return { key, cert };
  } catch {
    return undefined;
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args, { timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new TlsSetupError(
        "the TLS listener needs the openssl command to generate its certificate; install openssl (e.g. apt-get install openssl)",
      );
    }
    const detail = (e.stderr ?? e.message).trim().split("\n").pop();
    throw new TlsSetupError(`openssl could not generate the emulator's certificate: ${detail}`);
  }
}
