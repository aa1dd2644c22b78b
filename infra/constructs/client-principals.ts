import { createHash } from "node:crypto";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account/index.js";
import { Construct } from "constructs";
import type { ClientConfig } from "../../core/config/schema.ts";
import { clientAccountId } from "../names.ts";
import { terraformLiteral } from "../terraform-literal.ts";

export interface ClientPrincipalsProps {
  project: string;
  product: string;
  client: ClientConfig;
}

/**
 * Who acts for the client: the `uploaders` its config names, or, when it names none, a service account
 * created for it (the client then uploads with that account's credentials or by impersonating it).
 */
export class ClientPrincipals extends Construct {
  /** IAM members that upload and read for the client. */
  readonly members: readonly Principal[];
  readonly account?: ServiceAccount;

  constructor(scope: Construct, id: string, props: ClientPrincipalsProps) {
    super(scope, id);
    const { client } = props;
    if (client.uploaders.length > 0) {
      this.members = client.uploaders.map((member) => ({ key: principalKey(member), member }));
      return;
    }
    this.account = new ServiceAccount(this, "account", {
      project: props.project,
      accountId: clientAccountId(props.product, client.id),
      displayName: `Batchline client ${client.id}`.slice(0, 100),
      // A display name is the client's own text: Terraform must not read a ${ in it as its own.
      description: terraformLiteral(
        `Uploads inputs and reads results for ${client.displayName ?? client.id}`,
      ),
    });
    this.members = [{ key: "account", member: this.account.member }];
  }
}

export interface Principal {
  /** Stable construct-id fragment for the member, so reordering the config list changes nothing. */
  key: string;
  member: string;
}

/** A construct-id-safe, collision-free key for an IAM member string. */
export function principalKey(member: string): string {
  const readable = member.replace(/[^A-Za-z0-9@._:-]+/g, "-").slice(0, 60);
  return `${readable}-${createHash("sha256").update(member).digest("hex").slice(0, 8)}`;
}
