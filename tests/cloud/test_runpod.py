"""mjpod.cloud.runpod through the real runpod SDK, against a local server speaking Runpod's GraphQL API
(the SDK honours RUNPOD_API_BASE_URL). Asserts on what the server received and on the messages."""

from __future__ import annotations

import socket

import pytest

from mjpod.cloud.runpod import Pod, PodRequest, Runpod, RunpodError, find_public_key, ssh_config_entry
from tests.cloud.runpod_api import SSH_IP, SSH_PORT

IMAGE = "docker.io/me/mjpod:0.1"


def request(public_key: str, **kw) -> PodRequest:
    return PodRequest(
        **{"name": "mjpod", "image": IMAGE, "gpu": "NVIDIA GeForce RTX 4090", "public_key": public_key, **kw}
    )


def test_create_sends_image_gpu_ports_and_public_key(api, public_key):
    pod = Runpod().create(request(public_key, volume_gb=30, disk_gb=50))
    (call,) = api.fields("podFindAndDeployOnDemand")
    sent = call.args["input"]
    assert sent["imageName"] == IMAGE
    assert sent["gpuTypeId"] == "NVIDIA GeForce RTX 4090"
    assert sent["ports"] == "22/tcp"
    assert {"key": "PUBLIC_KEY", "value": public_key} in sent["env"]
    # host keys on the volume: a resumed pod keeps its SSH identity
    assert {"key": "MJPOD_HOST_KEY_DIR", "value": "/workspace/.ssh/host_keys"} in sent["env"]
    assert sent["cloudType"] == "SECURE"
    assert sent["gpuCount"] == 1
    assert sent["containerDiskInGb"] == 50
    assert sent["volumeInGb"] == 30
    assert sent["volumeMountPath"] == "/workspace"
    assert sent["allowedCudaVersions"] == ["13.0"]  # the PyPI warp-lang wheel needs a CUDA 13 driver
    assert call.headers["Authorization"] == f"Bearer {api.api_key}"
    assert pod.id in api.pods


def test_a_cu12_image_accepts_cuda_12_hosts(api, public_key):
    Runpod().create(request(public_key, warp_cuda=12))
    versions = api.fields("podFindAndDeployOnDemand")[0].args["input"]["allowedCudaVersions"]
    assert "12.4" in versions and "13.0" in versions and "11.8" not in versions


def test_wait_for_ssh_polls_until_the_port_is_published(api):
    api.polls_before_ssh = 2
    pod_id = api.add_pod("mjpod", ssh=False)
    seen = []
    pod = Runpod().wait_for_ssh(pod_id, timeout=30, poll=0.01, progress=seen.append)
    assert (pod.ssh_host, pod.ssh_port) == (SSH_IP, SSH_PORT)
    assert len(seen) == 2 and len(api.fields("pod")) == 3


def test_wait_for_ssh_gives_up_with_a_message(api):
    api.polls_before_ssh = 10**6
    pod_id = api.add_pod("mjpod", ssh=False)
    with pytest.raises(
        RunpodError, match=f"pod {pod_id} has no public SSH port after 0 s .*pulling the image"
    ):
        Runpod().wait_for_ssh(pod_id, timeout=0.05, poll=0.01)


def test_unknown_gpu_type_names_the_command_that_lists_them(api, public_key):
    with pytest.raises(RunpodError, match=r"no GPU type 'RTX 9999'.*mjpod runpod gpus"):
        Runpod().create(request(public_key, gpu="RTX 9999"))
    assert not api.fields("podFindAndDeployOnDemand")


def test_no_capacity_error_says_what_to_try(api, public_key):
    api.graphql_error = "There are no longer any instances available with the requested specifications."
    with pytest.raises(RunpodError) as err:
        Runpod().create(request(public_key))
    assert "no longer any instances available" in str(err.value)
    assert "--cloud ALL" in str(err.value)


def test_refused_api_key(api, public_key, monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", "rp_wrong")
    with pytest.raises(RunpodError, match=r"Runpod refused the API key.*RUNPOD_API_KEY"):
        Runpod().create(request(public_key))


def test_an_outage_page_instead_of_json(api, public_key):
    api.fail_with = (502, "<html><body>Bad Gateway</body></html>")
    with pytest.raises(RunpodError, match=r"not JSON.*try again later"):
        Runpod().create(request(public_key))


def test_an_unreachable_api(api, public_key, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
    with pytest.raises(RunpodError, match=f"cannot reach the Runpod API at {url}"):
        Runpod().pods()


def test_an_image_runpod_cannot_pull_is_refused_before_any_request(api, public_key):
    with pytest.raises(RunpodError, match=r"names no registry.*make push IMAGE=docker.io/<you>/mjpod"):
        Runpod().create(request(public_key, image="mjpod:latest"))
    assert not api.calls


def test_values_that_would_break_the_graphql_text_are_refused(api, public_key):
    with pytest.raises(RunpodError, match="quotes"):
        Runpod().create(request(public_key, name='x", gpuCount: 8, name: "y'))
    assert not api.calls


def test_a_second_pod_with_the_same_name_is_refused(api, public_key):
    existing = api.add_pod("mjpod")
    with pytest.raises(RunpodError, match=f"already exists \\({existing}, RUNNING\\).*runpod-down"):
        Runpod().create(request(public_key))
    assert not api.fields("podFindAndDeployOnDemand")


def test_find_by_name_or_explain(api):
    client = Runpod()
    with pytest.raises(RunpodError, match="no pod named 'mjpod' \\(your pods: none\\)"):
        client.find("mjpod")
    first = api.add_pod("mjpod")
    assert client.find("mjpod").id == first
    second = api.add_pod("mjpod")
    with pytest.raises(RunpodError, match=f"2 pods are named 'mjpod': {first} .*{second} .*--id"):
        client.find("mjpod")
    assert client.find("mjpod", second).id == second


def test_terminate_and_stop(api):
    client = Runpod()
    pod = client.find("mjpod", api.add_pod("mjpod"))
    client.stop(pod.id)
    assert api.pods[pod.id]["desiredStatus"] == "EXITED"
    client.terminate(pod.id)
    assert api.fields("podTerminate")[0].args["input"] == {"podId": pod.id}
    assert pod.id not in api.pods


def test_public_key_checks(tmp_path, monkeypatch, public_key):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PUBLIC_KEY", raising=False)
    with pytest.raises(RunpodError, match=r"no SSH public key found.*ssh-keygen -t ed25519"):
        find_public_key()
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blb\n")
    (tmp_path / ".ssh" / "id_ed25519.pub").write_text(public_key + "\n")
    # given the private key's path, the .pub beside it is what gets sent
    assert find_public_key(tmp_path / ".ssh" / "id_ed25519") == (public_key, tmp_path / ".ssh" / "id_ed25519")
    (tmp_path / ".ssh" / "id_ed25519.pub").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blb\n")
    with pytest.raises(RunpodError, match="PRIVATE key"):
        find_public_key()
    monkeypatch.setenv("PUBLIC_KEY", "my laptop key")
    with pytest.raises(RunpodError, match="PUBLIC_KEY is not one OpenSSH public key line"):
        find_public_key()


def test_ssh_config_entry_for_vs_code():
    pod = Pod("pod0042", "mjpod", "RUNNING", IMAGE, "RTX 4090", 0.69, SSH_IP, SSH_PORT)
    entry = ssh_config_entry(pod, None).splitlines()
    assert entry[0] == "Host mjpod-mjpod"
    assert f"    HostName {SSH_IP}" in entry and f"    Port {SSH_PORT}" in entry
    assert "    User root" in entry
    assert "    HostKeyAlias mjpod-pod0042" in entry  # pods reuse addresses: one known_hosts entry per pod
    assert "    LocalForward 7000 127.0.0.1:7000" in entry
