"""Renting cheaply through the real runpod SDK against the local server speaking Runpod's API (validated
against Runpod's schema): spot pods at a bid, network volumes at /workspace, the idle-stop settings a pod
gets, and Runpod's refusals as messages that say what to do."""

from __future__ import annotations

import json
import math

import pytest

from mjpod.cloud.runpod import Runpod, RunpodError
from mjpod.cloud.runpod_volumes import VolumeError
from tests.cloud.runpod_api import OTHER_DATA_CENTER, PRICES
from tests.cloud.test_runpod import IMAGE, request

GPU = "NVIDIA GeForce RTX 4090"


def sent(api, field: str) -> dict:
    (call,) = api.fields(field)
    return call.args["input"]


def test_spot_rents_an_interruptible_pod_at_the_bid(api, public_key):
    pod = Runpod().create(request(public_key, spot=True, bid=0.42, gpu_count=2))
    rent = sent(api, "podRentInterruptable")
    assert rent["bidPerGpu"] == 0.42
    assert rent["gpuTypeId"] == GPU and rent["gpuCount"] == 2 and rent["cloudType"] == "SECURE"
    assert rent["imageName"] == IMAGE and rent["ports"] == "22/tcp"
    assert rent["volumeMountPath"] == "/workspace" and rent["startSsh"] is True
    assert rent["allowedCudaVersions"] == ["13.0"]
    assert {"key": "PUBLIC_KEY", "value": public_key} in rent["env"]
    assert not api.fields("podFindAndDeployOnDemand")  # not an on-demand pod
    assert pod.spot and pod.cost_per_hr == pytest.approx(0.84)  # the price it got: the bid x 2 GPUs
    assert api.pods[pod.id]["podType"] == "INTERRUPTABLE"


def test_spot_without_a_bid_bids_runpods_spot_price_of_that_cloud(api, public_key):
    said: list[str] = []
    Runpod().create(request(public_key, spot=True, cloud="COMMUNITY"), said.append)
    assert sent(api, "podRentInterruptable")["bidPerGpu"] == PRICES[GPU]["communitySpotPrice"]
    assert sent(api, "gpuTypes")["id"] == GPU
    assert any("bidding $0.200/hr per GPU" in line and "on demand $0.340" in line for line in said), said


def test_no_machine_at_that_bid_says_what_the_gpu_costs_now_and_what_to_try(api, public_key):
    api.spot_capacity[GPU] = 0.5
    with pytest.raises(RunpodError) as err:
        Runpod().create(request(public_key, spot=True, bid=0.3))
    message = str(err.value)
    assert f"no {GPU} is free for a bid of $0.300/hr per GPU in the SECURE cloud now" in message
    assert "bid more (--bid; SECURE cloud now: spot $0.350" in message and "on demand $0.690" in message
    assert "--cloud ALL" in message and "without --spot" in message
    assert not api.pods


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"bid": 0.3}, "--bid is the price per GPU of a spot pod: add --spot"),
        ({"spot": True, "bid": -1.0}, "above 0 and at most 100"),
        ({"spot": True, "bid": math.nan}, "above 0 and at most 100"),
        ({"idle_stop": 0.0}, "--idle-stop is minutes, above 0"),
        ({"idle_terminate": True}, "go with --idle-stop MINUTES"),
        ({"idle_stop": 5.0, "idle_key_secret": "a b"}, "is not a Runpod secret name"),
        ({"create_volume": True}, "--create-volume needs --network-volume NAME"),
        ({"network_volume": "data", "create_volume": True}, "--create-volume needs --data-center"),
        ({"network_volume": 'x", gpuCount: 8'}, "is neither a volume id nor a name"),
        ({"data_center": "mars"}, "not a Runpod data centre id such as EU-RO-1"),
    ],
)
def test_cost_options_are_checked_before_anything_is_sent(api, public_key, kw, error):
    with pytest.raises((RunpodError, VolumeError), match=error):
        Runpod().create(request(public_key, **kw))
    assert not api.calls


def test_a_network_volume_by_name_is_mounted_at_workspace_in_its_data_centre(api, public_key):
    api.add_volume("other", "US-KS-2")
    volume = api.add_volume("mjpod-data", "EU-RO-1")
    pod = Runpod().create(request(public_key, network_volume="mjpod-data", volume_gb=0))
    deploy = sent(api, "podFindAndDeployOnDemand")
    assert deploy["networkVolumeId"] == volume and deploy["dataCenterId"] == "EU-RO-1"
    assert deploy["volumeMountPath"] == "/workspace" and deploy["volumeInGb"] == 0  # no pod volume beside it
    # the host keys live on the volume: the next pod answers with the same SSH identity
    assert {"key": "MJPOD_HOST_KEY_DIR", "value": "/workspace/.ssh/host_keys"} in deploy["env"]
    assert Runpod().pod(pod.id).network_volume_id == volume


def test_a_spot_pod_on_a_network_volume(api, public_key):
    volume = api.add_volume("mjpod-data", "EU-RO-1")
    Runpod().create(request(public_key, spot=True, bid=0.5, network_volume=volume))
    rent = sent(api, "podRentInterruptable")
    assert (rent["networkVolumeId"], rent["dataCenterId"], rent["volumeInGb"]) == (volume, "EU-RO-1", 0)


def test_a_network_volume_is_created_on_request_in_the_data_centre_asked(api, public_key):
    said: list[str] = []
    kw = {"network_volume": "sweeps", "create_volume": True, "data_center": "US-KS-2", "volume_gb": 60}
    Runpod().create(request(public_key, **kw), said.append)
    assert api.rest_calls == [
        ("/v1/networkvolumes", {"name": "sweeps", "size": 60, "dataCenterId": "US-KS-2"})
    ]
    (created,) = api.volumes
    deploy = sent(api, "podFindAndDeployOnDemand")
    assert (deploy["networkVolumeId"], deploy["dataCenterId"]) == (created, "US-KS-2")
    assert "creating network volume 'sweeps': 60 GB in US-KS-2" in said
    # a second pod on it finds it by name and creates nothing
    Runpod().terminate(Runpod().find("mjpod").id)
    Runpod().create(request(public_key, **kw))
    assert len(api.rest_calls) == 1


def test_a_volume_in_another_data_centre_is_refused_with_the_fix(api, public_key):
    volume = api.add_volume("mjpod-data", "EU-RO-1")
    with pytest.raises(VolumeError) as err:
        Runpod().create(request(public_key, network_volume="mjpod-data", data_center="US-KS-2"))
    message = " ".join(str(err.value).split())
    assert f"mjpod-data ({volume}, 50 GB, EU-RO-1) is in data centre EU-RO-1, not US-KS-2" in message
    assert "Drop --data-center (the pod then goes to EU-RO-1)" in message
    assert not api.fields("podFindAndDeployOnDemand")


def test_runpods_own_data_centre_refusal_names_the_fix(api, public_key):
    api.graphql_error = OTHER_DATA_CENTER
    with pytest.raises(RunpodError, match="mounts only a network volume of its own data centre"):
        Runpod().create(request(public_key))


def test_a_volume_that_is_not_there_lists_yours_and_how_to_create_it(api, public_key):
    api.add_volume("mjpod-data", "EU-RO-1")
    with pytest.raises(VolumeError) as err:
        Runpod().create(request(public_key, network_volume="sweeps"))
    assert "no network volume 'sweeps'" in str(err.value) and "mjpod-data (" in str(err.value)
    assert "--create-volume --data-center DC" in str(err.value)
    assert not api.rest_calls and not api.fields("podFindAndDeployOnDemand")


def test_a_key_the_rest_api_refuses_is_named(api):
    api.pod_keys["rp_pod_scoped"] = "pod9999"
    with pytest.raises(
        RunpodError, match=r"Runpod refused the API key while trying to create network volume"
    ):
        Runpod(api_key="rp_pod_scoped").create_network_volume("sweeps", 50, "EU-RO-1")
    assert not api.volumes


def test_idle_stop_gives_the_pod_minutes_and_action_and_never_the_callers_key(api, public_key):
    Runpod().create(request(public_key, idle_stop=30.0, idle_terminate=True, idle_key_secret="mjpod_idle"))
    env = {e["key"]: e["value"] for e in sent(api, "podFindAndDeployOnDemand")["env"]}
    assert env["MJPOD_IDLE_STOP"] == "30" and env["MJPOD_IDLE_ACTION"] == "terminate"
    # a reference Runpod fills in from the account's secret: the key itself never passes through mjpod
    assert env["MJPOD_IDLE_STOP_KEY"] == "{{ RUNPOD_SECRET_mjpod_idle }}"
    assert api.api_key not in json.dumps(api.calls[-1].query)


def test_gpu_prices_by_cloud(api):
    client = Runpod()
    secure, community, both = (client.gpu_price(GPU, 1, c) for c in ("SECURE", "COMMUNITY", "ALL"))
    assert (secure.on_demand, secure.spot) == (0.69, 0.35)
    assert (community.on_demand, community.spot) == (0.34, 0.2)
    assert (both.on_demand, both.spot, both.minimum_bid) == (0.34, 0.2, 0.2)  # lowestPrice's figures
    with pytest.raises(RunpodError, match="no GPU type 'RTX 9999'"):
        client.gpu_price("RTX 9999")
