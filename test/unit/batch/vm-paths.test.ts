import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { containerView, parseEnvFile, VmPathError } from "../../../local/batch/vm-paths.ts";
import { tempDir } from "../../support/temp.ts";

describe("container volumes and --env-file on the local Batch", () => {
  it("reads docker's env-file format literally, skipping comments, blanks and bare names", () => {
    expect(parseEnvFile("# note\nA=1\n\nB=x=y\r\nC= spaced \nBARE\n=nothing\n")).toEqual({
      A: "1",
      B: "x=y",
      C: " spaced ",
    });
  });

  it("translates container paths under a volume to the attempt's VM disk, longest mount first", async () => {
    const vm = tempDir("batchline-vm-");
    const view = await containerView(vm, {
      volumes: ["/mnt/disks/share/task:/work", "/mnt/disks/share:/mnt/disks/share:ro"],
    });
    expect(view.translate("/work/in/input")).toBe(join(vm, "mnt/disks/share/task/in/input"));
    expect(view.translate("/work")).toBe(join(vm, "mnt/disks/share/task"));
    expect(view.translate("/mnt/disks/share/x")).toBe(join(vm, "mnt/disks/share/x"));
    // Only whole path segments: /workshop is not under /work; relative text is left alone.
    expect(view.translate("/workshop")).toBe("/workshop");
    expect(view.translate("main.py")).toBe("main.py");
    // docker creates a missing host directory of a bind mount.
    expect(existsSync(join(vm, "mnt/disks/share/task"))).toBe(true);
  });

  it("reads --env-file from the VM disk when the runnable starts, values translated", async () => {
    const vm = tempDir("batchline-vm-");
    mkdirSync(join(vm, "mnt/disks/t"), { recursive: true });
    writeFileSync(join(vm, "mnt/disks/t/task.env"), "INPUT=/data/in\nURI=gs://b/o\n");
    const view = await containerView(vm, {
      volumes: ["/mnt/disks/t:/data"],
      options: "--user root --env-file /mnt/disks/t/task.env",
    });
    expect(view.envFile).toEqual({ INPUT: join(vm, "mnt/disks/t/in"), URI: "gs://b/o" });
  });

  it("fails the runnable as docker does when the env file is missing, or a volume is malformed", async () => {
    const vm = tempDir("batchline-vm-");
    await expect(containerView(vm, { options: "--env-file=/mnt/disks/none.env" })).rejects.toMatchObject({
      exitCode: 125,
      reason: "env file /mnt/disks/none.env not being readable (ENOENT)",
    });
    const err = await containerView(vm, { volumes: ["relative:/x"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmPathError);
    expect((err as VmPathError).reason).toBe(
      'container volume "relative:/x" not being HOST_PATH:CONTAINER_PATH',
    );
  });
});
