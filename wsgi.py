from fieldobs import create_app

app = create_app()
