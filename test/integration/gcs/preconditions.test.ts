import type { Bucket, File } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BACKENDS, bucketName, caught, type Harness, startHarness } from "./helpers.ts";

const PRECONDITIONS = [
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
] as const;
type Precondition = (typeof PRECONDITIONS)[number];

interface State {
  generation: number;
  metageneration: number;
}

/** A value for `precondition` that holds (or, with `holds` false, fails) against `state`. */
function valueFor(precondition: Precondition, state: State, holds: boolean): number {
  switch (precondition) {
    case "ifGenerationMatch":
      return holds ? state.generation : state.generation - 1;
    case "ifGenerationNotMatch":
      return holds ? state.generation - 1 : state.generation;
    case "ifMetagenerationMatch":
      return holds ? state.metageneration : state.metageneration + 5;
    case "ifMetagenerationNotMatch":
      return holds ? state.metageneration + 5 : state.metageneration;
  }
}

const CASES = PRECONDITIONS.flatMap((p) => [
  [p, true],
  [p, false],
]) as Array<[Precondition, boolean]>;

let seq = 0;
const unique = (label: string) => `${label}/${++seq}`;

async function stateOf(file: File): Promise<State> {
  const [m] = await file.getMetadata();
  return { generation: Number(m.generation), metageneration: Number(m.metageneration) };
}

/** An object with metageneration 2, so generation and metageneration preconditions are told apart. */
async function existing(
  bucket: Bucket,
  label: string,
  content = "original",
): Promise<{ file: File; state: State }> {
  const file = bucket.file(unique(label));
  await file.save(content, { resumable: false });
  await file.setMetadata({ metadata: { touched: "yes" } });
  return { file, state: await stateOf(file) };
}

async function contentOf(file: File): Promise<string> {
  return (await file.download())[0].toString();
}

describe.each(BACKENDS)("preconditions (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;

  beforeAll(async () => {
    h = await startHarness(backend);
    [bucket] = await h.storage.createBucket(bucketName("preconditions"));
  });
  afterAll(async () => {
    await h.close();
  });

  describe("upload over an existing object", () => {
    test.each(CASES)("%s that holds=%s", async (precondition, holds) => {
      const { file, state } = await existing(bucket, "upload");
      const upload = () =>
        file.save("replacement", {
          resumable: false,
          preconditionOpts: { [precondition]: valueFor(precondition, state, holds) },
        });

      if (holds) {
        await upload();
        expect(await contentOf(file)).toBe("replacement");
      } else {
        expect((await caught(upload)).code).toBe(412);
        expect(await contentOf(file)).toBe("original");
      }
    });

    test("ifGenerationMatch=0 creates an object that does not exist yet", async () => {
      const file = bucket.file(unique("create-only"));

      await file.save("first", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });

      expect(await contentOf(file)).toBe("first");
    });

    test("ifGenerationMatch=0 fails with 412 when the object exists", async () => {
      const { file } = await existing(bucket, "create-only-exists");

      const err = await caught(() =>
        file.save("second", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
      );

      expect(err.code).toBe(412);
      expect(err.message).toBe("At least one of the pre-conditions you specified did not hold.");
    });

    test("a resumable upload with a failing ifGenerationMatch fails with 412 when the session is opened", async () => {
      const { file, state } = await existing(bucket, "resumable-fail");

      const err = await caught(() =>
        file.save("replacement", {
          resumable: true,
          preconditionOpts: { ifGenerationMatch: state.generation + 1 },
        }),
      );

      expect(err.code).toBe(412);
      expect(await contentOf(file)).toBe("original");
    });

    test("a resumable upload with a holding ifGenerationMatch replaces the object", async () => {
      const { file, state } = await existing(bucket, "resumable-ok");

      await file.save("replacement", {
        resumable: true,
        preconditionOpts: { ifGenerationMatch: state.generation },
      });

      expect(await contentOf(file)).toBe("replacement");
    });

    test("a resumable upload whose precondition stops holding before it finishes fails with 412", async () => {
      const { file, state } = await existing(bucket, "resumable-race");
      const [uri] = await file.createResumableUpload({
        preconditionOpts: { ifGenerationMatch: state.generation },
      });
      await file.save("someone else", { resumable: false });

      const err = await caught(() => file.save("mine", { uri, validation: false }));

      expect(err.code).toBe(412);
      expect(await contentOf(file)).toBe("someone else");
    });
  });

  describe("metadata update", () => {
    test.each(CASES)("%s that holds=%s", async (precondition, holds) => {
      const { file, state } = await existing(bucket, "patch");
      const patch = () =>
        file.setMetadata(
          { metadata: { colour: "blue" } },
          { [precondition]: valueFor(precondition, state, holds) },
        );

      if (holds) {
        await patch();
        const [m] = await file.getMetadata();
        expect(m.metadata).toEqual({ touched: "yes", colour: "blue" });
        expect(Number(m.metageneration)).toBe(state.metageneration + 1);
      } else {
        expect((await caught(patch)).code).toBe(412);
        expect(await stateOf(file)).toEqual(state);
      }
    });
  });

  describe("delete", () => {
    test.each(CASES)("%s that holds=%s", async (precondition, holds) => {
      const { file, state } = await existing(bucket, "delete");
      const remove = () => file.delete({ [precondition]: valueFor(precondition, state, holds) });

      if (holds) {
        await remove();
        expect((await file.exists())[0]).toBe(false);
      } else {
        expect((await caught(remove)).code).toBe(412);
        expect((await file.exists())[0]).toBe(true);
      }
    });
  });

  describe("copy (rewrite), destination preconditions", () => {
    test.each(CASES)("%s that holds=%s", async (precondition, holds) => {
      const { file: source } = await existing(bucket, "copy-src", "from source");
      const { file: dest, state } = await existing(bucket, "copy-dst", "original");
      const copy = () =>
        bucket.request({
          method: "POST",
          uri: `/o/${encodeURIComponent(source.name)}/rewriteTo/b/${bucket.name}/o/${encodeURIComponent(dest.name)}`,
          qs: { [precondition]: valueFor(precondition, state, holds) },
          json: {},
        });

      if (holds) {
        await copy();
        expect(await contentOf(dest)).toBe("from source");
      } else {
        expect((await caught(copy)).code).toBe(412);
        expect(await contentOf(dest)).toBe("original");
      }
    });

    test("file.copy with preconditionOpts.ifGenerationMatch=0 refuses to overwrite an existing destination", async () => {
      const { file: source } = await existing(bucket, "copy-src", "from source");
      const { file: dest } = await existing(bucket, "copy-dst", "original");

      const err = await caught(() => source.copy(dest, { preconditionOpts: { ifGenerationMatch: 0 } }));

      expect(err.code).toBe(412);
      expect(await contentOf(dest)).toBe("original");
    });
  });

  describe("copy (rewrite), source preconditions", () => {
    test.each(CASES)("ifSource…%s that holds=%s", async (precondition, holds) => {
      const { file: source, state } = await existing(bucket, "copy-src", "from source");
      const dest = bucket.file(unique("copy-dst-new"));
      const sourcePrecondition = precondition.replace(/^if/, "ifSource");
      const copy = () =>
        bucket.request({
          method: "POST",
          uri: `/o/${encodeURIComponent(source.name)}/rewriteTo/b/${bucket.name}/o/${encodeURIComponent(dest.name)}`,
          qs: { [sourcePrecondition]: valueFor(precondition, state, holds) },
          json: {},
        });

      if (holds) {
        await copy();
        expect(await contentOf(dest)).toBe("from source");
      } else {
        expect((await caught(copy)).code).toBe(412);
        expect((await dest.exists())[0]).toBe(false);
      }
    });
  });

  describe("compose, destination preconditions", () => {
    test.each(CASES)("%s that holds=%s", async (precondition, holds) => {
      const { file: a } = await existing(bucket, "compose-a", "A");
      const { file: b } = await existing(bucket, "compose-b", "B");
      const { file: dest, state } = await existing(bucket, "compose-dst", "original");
      const compose = () =>
        bucket.combine([a, b], dest, { [precondition]: valueFor(precondition, state, holds) });

      if (holds) {
        await compose();
        expect(await contentOf(dest)).toBe("AB");
      } else {
        expect((await caught(compose)).code).toBe(412);
        expect(await contentOf(dest)).toBe("original");
      }
    });

    test("a source's objectPreconditions.ifGenerationMatch that fails makes compose fail with 412", async () => {
      const { file: a, state } = await existing(bucket, "compose-a", "A");
      const dest = bucket.file(unique("compose-dst-new"));
      const compose = () =>
        bucket.request({
          method: "POST",
          uri: `/o/${encodeURIComponent(dest.name)}/compose`,
          json: {
            destination: {},
            sourceObjects: [
              { name: a.name, objectPreconditions: { ifGenerationMatch: state.generation + 1 } },
            ],
          },
        });

      expect((await caught(compose)).code).toBe(412);
      expect((await dest.exists())[0]).toBe(false);
    });
  });

  describe("get", () => {
    test.each(CASES)("%s that holds=%s", async (precondition, holds) => {
      const { file, state } = await existing(bucket, "get");
      const get = () => file.getMetadata({ [precondition]: valueFor(precondition, state, holds) });

      if (holds) {
        const [m] = await get();
        expect(m.name).toBe(file.name);
      } else {
        // A failed "NotMatch" on a read is 304 Not Modified, as for a conditional GET; a failed "Match" is 412.
        expect((await caught(get)).code).toBe(precondition.endsWith("NotMatch") ? 304 : 412);
      }
    });
  });
});
