def test_login_page_renders_in_chinese(client):
    resp = client.get("/login")
    assert resp.status_code == 200


def test_login_and_home(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    page = client.get("/").get_data(as_text=True)
    assert "多福巷社区" in page
