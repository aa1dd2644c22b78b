import { PubsubSubscription } from "@cdktf/provider-google/lib/pubsub-subscription/index.js";
import { PubsubSubscriptionIamMember } from "@cdktf/provider-google/lib/pubsub-subscription-iam-member/index.js";
import { PubsubTopic } from "@cdktf/provider-google/lib/pubsub-topic/index.js";
import { PubsubTopicIamMember } from "@cdktf/provider-google/lib/pubsub-topic-iam-member/index.js";
import { Construct } from "constructs";
import { ROLES } from "../iam.ts";
import { pullSubscriptionName } from "../names.ts";
import { type Principal, principalKey } from "./client-principals.ts";

export interface ClientTopicProps {
  project: string;
  /** `batch-<product>-<client>-outputs` (core/ids.ts topicName). */
  topic: string;
  /** The accounts that publish results: notify, and plan when it settles a run that ended without notify. */
  publishers: readonly { key: string; member: string }[];
  /** The client's principals plus its config's `subscribers`. */
  subscribers: readonly Principal[];
  pullSubscription: boolean;
}

/** The client's result topic: notify (and plan, recovering) publishes, the client's principals and subscribers consume. */
export class ClientTopic extends Construct {
  readonly topic: PubsubTopic;
  readonly subscription?: PubsubSubscription;

  constructor(scope: Construct, id: string, props: ClientTopicProps) {
    super(scope, id);
    this.topic = new PubsubTopic(this, "topic", {
      project: props.project,
      name: props.topic,
      // Keeps messages a week even without a subscription, so a subscription created late can seek back.
      messageRetentionDuration: "604800s",
    });
    for (const { key, member } of props.publishers) {
      new PubsubTopicIamMember(this, key === "notify" ? "publisher" : `publisher-${key}`, {
        project: props.project,
        topic: this.topic.name,
        role: ROLES.pubsubPublisher,
        member,
      });
    }
    // subscriber on the topic lets a principal attach its own subscriptions to it.
    for (const { key, member } of props.subscribers) {
      new PubsubTopicIamMember(this, `subscriber-${key}`, {
        project: props.project,
        topic: this.topic.name,
        role: ROLES.pubsubSubscriber,
        member,
      });
    }
    if (!props.pullSubscription) return;
    this.subscription = new PubsubSubscription(this, "pull", {
      project: props.project,
      name: pullSubscriptionName(props.topic),
      topic: this.topic.id,
      ackDeadlineSeconds: 60,
      messageRetentionDuration: "604800s",
      // Subscriptions expire after 31 idle days by default; a client that goes quiet must not lose it.
      expirationPolicy: { ttl: "" },
    });
    for (const { key, member } of props.subscribers) {
      new PubsubSubscriptionIamMember(this, `pull-subscriber-${key}`, {
        project: props.project,
        subscription: this.subscription.name,
        role: ROLES.pubsubSubscriber,
        member,
      });
    }
  }
}

/** The client's principals and its `subscribers`, without duplicates. */
export function subscribersOf(principals: readonly Principal[], subscribers: readonly string[]): Principal[] {
  const seen = new Set(principals.map((p) => p.member));
  const extra = [...new Set(subscribers)]
    .filter((m) => !seen.has(m))
    .map((member) => ({ key: principalKey(member), member }));
  return [...principals, ...extra];
}
