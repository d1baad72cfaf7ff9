"""The seed route dispatches to whichever plugin plans teams; with none it is 404."""


def test_no_seeding_plugin_means_404(clawboo_host_factory):
    with clawboo_host_factory(plugins=[]).client() as client:
        response = client.post("/api/onboarding/seed-native-team", json={})
    assert response.status_code == 404
    assert response.json() == {"error": "no installed runtime can seed a team"}


def test_the_installed_native_plugin_seeds(clawboo_host_factory):
    with clawboo_host_factory().client() as client:
        response = client.post("/api/onboarding/seed-native-team", json={"provider": "openai"})
        assert response.status_code == 201
        team = client.get(f"/api/teams/{response.json()['teamId']}").json()
    assert {a["model"] for a in team["agents"]} == {"gpt-4o", "gpt-4o-mini"}
