from tests.conftest import login, make_account


def test_signup_page_renders(client):
    response = client.get("/signup")
    assert response.status_code == 200
    assert "Create your IGNY8 account" in response.get_data(as_text=True)


def test_owner_signs_in_and_sees_dashboard(app, client):
    make_account(app, email="owner@acme.example.com")
    response = login(client, "owner@acme.example.com")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Start with a site" in page
    assert "100 credits" in page
