class DownConnection:
    def cursor(self):
        raise RuntimeError("connection refused")


def test_health_is_ok_when_the_database_and_ffmpeg_answer(client, db):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_reports_a_missing_ffmpeg(client, db, monkeypatch):
    monkeypatch.setattr("media_pipeline.ffmpeg.available", lambda: False)
    response = client.get("/health")
    assert response.status_code == 503
    assert "ffmpeg" in response.json()["detail"]


def test_health_reports_an_unreachable_database(client, db, monkeypatch):
    monkeypatch.setattr("jobs.views.connection", DownConnection())
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("database unavailable")
