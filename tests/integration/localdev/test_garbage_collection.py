"""The real controller-manager's garbage collector deletes the children of a deleted owner.

The collector notices a newly installed CRD on its discovery resync (every 30 s), so the
first collection in a session can take that long; the watch waits for it.
"""

from __future__ import annotations

from kubernetes import client, watch

from kubetune.crd import GROUP, VERSION


def test_children_of_a_deleted_training_are_collected(api_client: client.ApiClient, namespace: str) -> None:
    objs = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    owner = objs.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "trainings",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Training",
            "metadata": {"name": "owner"},
            "spec": {
                "trainerRef": "lora",
                "baseModel": "file:///m",
                "dataset": {"uri": "file:///d.jsonl", "format": "alpaca"},
            },
        },
    )
    ref = client.V1OwnerReference(
        api_version=f"{GROUP}/{VERSION}",
        kind="Training",
        name="owner",
        uid=owner["metadata"]["uid"],
        controller=True,
        block_owner_deletion=True,
    )
    for name in ("child-a", "child-b"):
        core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=name, labels={"gc-test": "yes"}, owner_references=[ref])
            ),
        )
    unowned = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="unowned", labels={"gc-test": "yes"}))
    )

    listed = core.list_namespaced_config_map(namespace, label_selector="gc-test=yes")
    objs.delete_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "owner")

    remaining = {"child-a", "child-b"}
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map,
        namespace,
        label_selector="gc-test=yes",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=180,
    ):
        if event["type"] == "DELETED":
            remaining.discard(event["object"].metadata.name)
            if not remaining:
                w.stop()
    assert remaining == set()
    # The unowned one stays.
    assert core.read_namespaced_config_map("unowned", namespace).metadata.uid == unowned.metadata.uid
